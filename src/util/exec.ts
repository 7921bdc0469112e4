// Runs host tools (mkfs, mount, nvme, ...) without a shell: arguments are passed as an array, so nothing
// from a request can be interpreted by a shell. Every call has a timeout; a tool that hangs on a dead
// device must not wedge the node plugin.
import { spawn } from "node:child_process";

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface ExecOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  input?: string;
  env?: NodeJS.ProcessEnv;
}

export class ExecError extends Error {
  readonly result: ExecResult;
  readonly command: string;
  constructor(command: string, result: ExecResult, reason: string) {
    super(`${command}: ${reason}${result.stderr.trim() ? `: ${result.stderr.trim().slice(0, 2000)}` : ""}`);
    this.name = "ExecError";
    this.command = command;
    this.result = result;
  }
}

const DEFAULT_TIMEOUT_MS = 120_000;
const KILL_GRACE_MS = 5_000;

/** Runs a command and resolves with its result whatever the exit code. Rejects only when it could not run. */
export function run(file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      env: opts.env ?? { ...process.env, LC_ALL: "C" },
      signal: opts.signal,
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    let killGrace: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
      // A process stuck in uninterruptible I/O (umount on a dead NVMe device) ignores SIGKILL and never
      // closes; give up waiting for it so the caller, and the lock it holds, are not wedged forever.
      killGrace = setTimeout(() => {
        const result = {
          code: null,
          signal: "SIGKILL" as NodeJS.Signals,
          stdout,
          stderr,
          durationMs: performance.now() - started,
        };
        reject(
          new ExecError(
            describe(file, args),
            result,
            `timed out after ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms and did not exit after SIGKILL`,
          ),
        );
      }, KILL_GRACE_MS);
    }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killGrace);
      const result = { code, signal, stdout, stderr, durationMs: performance.now() - started };
      if (timedOut)
        reject(
          new ExecError(
            describe(file, args),
            result,
            `timed out after ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`,
          ),
        );
      else resolve(result);
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs a command and rejects with ExecError unless it exits 0. */
export async function runOk(
  file: string,
  args: readonly string[],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  const result = await run(file, args, opts);
  if (result.code !== 0)
    throw new ExecError(describe(file, args), result, `exit status ${result.code ?? result.signal}`);
  return result;
}

export function describe(file: string, args: readonly string[]): string {
  return [file, ...args].join(" ");
}
