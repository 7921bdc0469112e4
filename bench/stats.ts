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
  const out = { a: [] as number[], b: [] as number[] };
  for (let i = 0; i < n; i++) {
    for (const [key, fn] of i % 2 === 0
      ? ([
          ["a", a],
          ["b", b],
        ] as const)
      : ([
          ["b", b],
          ["a", a],
        ] as const)) {
      const t0 = performance.now();
      await fn();
      out[key].push(performance.now() - t0);
    }
  }
  return out;
}
