// The kubelet-like CSI client (bench/kubelet-client, Go + grpc-go): built on first use with the Go
// toolchain into .cache/bin, then driven line by line. It reports its own timings, so the pipe to it is
// not counted.
import { type ChildProcessByStdio, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";

const ROOT = resolve(import.meta.dirname, "..");

/** Path of the built client, or the reason it is not available. */
export function buildKubeletClient(): { bin: string } | { skipped: string } {
  const bin = join(ROOT, ".cache", "bin", "kubelet-client");
  const src = join(ROOT, "bench", "kubelet-client");
  const r = spawnSync("go", ["build", "-o", bin, "."], {
    cwd: src,
    encoding: "utf8",
    env: { ...process.env, GOFLAGS: "-mod=mod" },
  });
  if (r.error) return { skipped: `no Go toolchain (${r.error.message})` };
  if (r.status !== 0 || !existsSync(bin))
    return { skipped: `go build failed: ${r.stderr.trim().slice(-500)}` };
  return { bin };
}

export class KubeletClient {
  readonly #child: ChildProcessByStdio<Writable, Readable, null>;
  readonly #lines: AsyncIterator<string>;

  constructor(
    bin: string,
    opts: {
      endpoint: string;
      volume: string;
      staging: string;
      target: string;
      publishContext: Record<string, string>;
    },
  ) {
    const args = [
      "-endpoint",
      opts.endpoint,
      "-volume",
      opts.volume,
      "-staging",
      opts.staging,
      "-target",
      opts.target,
    ];
    for (const [k, v] of Object.entries(opts.publishContext)) args.push("-publish-context", `${k}=${v}`);
    this.#child = spawn(bin, args, { stdio: ["pipe", "pipe", "inherit"] });
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  /** Runs `cycle` or `floor`; resolves with the milliseconds the client measured. */
  async run(command: "cycle" | "floor"): Promise<number> {
    this.#child.stdin.write(`${command}\n`);
    const line = await this.#lines.next();
    if (line.done) throw new Error(`kubelet-client exited during ${command}`);
    return Number(line.value) / 1000;
  }

  close(): void {
    this.#child.stdin.end();
  }
}
