// Small statistics helpers for the benchmarks: medians and percentiles of samples measured side by side.
export function percentile(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx]!;
}

export const median = (samples: number[]) => percentile(samples, 50);

export function fmtMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(1)} ms`;
}

export function row(cells: (string | number)[], widths: number[]): string {
  return cells.map((c, i) => String(c).padEnd(widths[i] ?? 12)).join(" ");
}

/** Runs `a` and `b` alternately so both see the same machine conditions (interleaved, not back to back). */
export async function interleaved(
  n: number,
  a: () => Promise<void>,
  b: () => Promise<void>,
): Promise<{ a: number[]; b: number[] }> {
  const [ta, tb] = await interleavedMany(n, [a, b]);
  return { a: ta!, b: tb! };
}

/** Runs every function once per round, starting each round with the next one, and times each run. */
export async function interleavedMany(n: number, fns: Array<() => Promise<void>>): Promise<number[][]> {
  const out = fns.map(() => [] as number[]);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < fns.length; k++) {
      const j = (i + k) % fns.length;
      const t0 = performance.now();
      await fns[j]!();
      out[j]!.push(performance.now() - t0);
    }
  }
  return out;
}
