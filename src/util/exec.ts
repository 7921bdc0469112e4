// Runs host tools (mkfs, mount, nvme, ...) without a shell: arguments are passed as an array, so nothing
// from a request can be interpreted by a shell. Every call has a timeout; a tool that hangs on a dead
// device must not wedge the node plugin. Commands normally start through a small helper process
// (exec-helper.ts: forking from a large Node process is slow and blocks the event loop); they fall back to
// a direct spawn when no helper is free or bash is missing, with the same results either way.
import { spawn } from "node:child_process";
import { ExecHelperPool, resolveExecutable } from "./exec-helper.ts";

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
  /**
   * An open descriptor handed to the command as its stdin (it names the file as /proc/self/fd/0), so it
   * works on exactly what the caller opened. Such a command is spawned directly (the helpers cannot pass
   * descriptors).
   */
  stdinFd?: number;
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

export type ExecMode = "helper" | "direct";

let mode: ExecMode = "helper";
const pool = new ExecHelperPool();

/** How commands are started from now on. "direct" is for comparisons (bench) and for tests of both paths. */
export function setExecMode(m: ExecMode): void {
  mode = m;
  if (m === "direct") pool.close();
}

/**
 * Commands started through helpers run in the environment of the moment the helper started, not of the
 * moment of the call (see ExecHelperPool.environmentChanged). Call this after changing process.env.
 */
export const execEnvironmentChanged = (): void => pool.environmentChanged();

/** Helper processes currently alive (tests). */
export const execHelperCount = (): number => pool.size;

/** Runs a command and resolves with its result whatever the exit code. Rejects only when it could not run. */
export async function run(
  file: string,
  args: readonly string[],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  if (mode === "direct" || opts.env || opts.stdinFd !== undefined) return runDirect(file, args, opts);
  if (args.some((a) => a.includes("\0")) || file.includes("\0"))
    throw new TypeError(`${describe(file, args)}: arguments must not contain NUL bytes`);
  const exe = resolveExecutable(file);
  if (!exe)
    throw Object.assign(new Error(`spawn ${file} ENOENT`), {
      code: "ENOENT",
      errno: -2,
      syscall: `spawn ${file}`,
      path: file,
      spawnargs: [...args],
    });
  const started = performance.now();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let pending: ReturnType<ExecHelperPool["run"]>;
  try {
    pending = pool.run(exe, {
      args,
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      timeoutMs,
      killGraceMs: KILL_GRACE_MS,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch {
    pending = undefined; // could not hand the command over (tmpfs full?): it did not start
  }
  if (!pending) return runDirect(file, args, opts);
  const o = await pending;
  const durationMs = performance.now() - started;
  switch (o.kind) {
    case "aborted":
      throw Object.assign(new Error("The operation was aborted"), { name: "AbortError", code: "ABORT_ERR" });
    case "lost":
      if (o.neverStarted) {
        pool.disable();
        return runDirect(file, args, opts);
      }
      throw new ExecError(
        describe(file, args),
        { code: null, signal: null, stdout: "", stderr: "", durationMs },
        `${o.why} while the command ran; its outcome is unknown`,
      );
    case "wedged":
      throw new ExecError(
        describe(file, args),
        { code: null, signal: "SIGKILL", stdout: o.stdout, stderr: o.stderr, durationMs },
        `timed out after ${timeoutMs} ms and did not exit after SIGKILL`,
      );
    case "exited": {
      const result: ExecResult = {
        code: o.killedWith ? null : o.status,
        signal: o.killedWith ?? null,
        stdout: o.stdout,
        stderr: o.stderr,
        durationMs,
      };
      if (o.killedWith === "SIGKILL")
        throw new ExecError(describe(file, args), result, `timed out after ${timeoutMs} ms`);
      return result;
    }
  }
}

function runDirect(file: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: [opts.stdinFd ?? (opts.input === undefined ? "ignore" : "pipe"), "pipe", "pipe"],
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
