// A pool of small long-lived bash processes that start host tools for us.
//
// Why: on Linux, libuv starts every child with fork(), which copies the parent's page tables, so the cost
// of a spawn grows with the parent's resident memory, and it runs on the event loop thread. Measured on
// the CI machine: /bin/true from a 74 MiB Node process 1.7 ms, from a 180 MiB one 5.8 ms (libuv#1715,
// node#14917). The node plugin sits at about 130 MiB and runs ~11 tools per stage/unstage cycle, so a
// third of its latency was forking itself, and every fork stalled every other volume's RPCs. A 4 MiB bash
// forks in a fraction of that and leaves the event loop free.
//
// Protocol, one command at a time per helper. Node writes the argv (NUL-separated, absolute executable
// path first) to `<prefix>.argv`, optional stdin to `<prefix>.in`, then one line `run` or `run-in` to the
// helper's stdin. The helper starts the command in the background with its stdout and stderr redirected to
// `<prefix>.out` / `<prefix>.err` (files on tmpfs: no pipes to drain, no framing of binary output), prints
// `pid <n>` so Node can kill it at its deadline, waits, and prints `exit <status>`. Nothing is ever
// interpreted by a shell: mapfile reads the arguments as data and "${argv[@]}" passes them through.
//
// Differences from child_process.spawn, and why they are harmless here:
//  - The executable is resolved on PATH by us (same rule as execvp, minus empty PATH entries) and passed
//    as an absolute path, so a bash builtin of the same name (echo, kill, test) can never run instead.
//  - bash reports a child killed by signal N as exit status 128+N. We only report a signal for a kill we
//    sent (timeout, abort); a tool killed by someone else (the OOM killer) shows as exit status 128+N,
//    which every caller treats as a failure, the same direction as a signal.
//  - Background commands of a non-interactive bash ignore SIGINT/SIGQUIT; we only ever send SIGTERM and
//    SIGKILL.
import { type ChildProcess, spawn } from "node:child_process";
import {
  accessSync,
  constants,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, isAbsolute, join, resolve } from "node:path";

export interface HelperRun {
  args: readonly string[];
  input?: string;
  timeoutMs: number;
  killGraceMs: number;
  signal?: AbortSignal;
}

export type HelperOutcome =
  | { kind: "exited"; status: number; stdout: string; stderr: string; killedWith?: NodeJS.Signals }
  | { kind: "wedged"; stdout: string; stderr: string }
  | { kind: "aborted" }
  /** The helper died. neverStarted: it could not even be spawned, so the command surely did not run. */
  | { kind: "lost"; why: string; neverStarted: boolean };

const SCRIPT = `
p=$1
while IFS= read -r req; do
  mapfile -d '' -t argv < "$p.argv"
  if [[ $req == run-in ]]; then in=$p.in; else in=/dev/null; fi
  "\${argv[@]}" < "$in" > "$p.out" 2> "$p.err" &
  pid=$!
  printf 'pid %d\\n' "$pid"
  wait "$pid"
  printf 'exit %d\\n' "$?"
done
`;

/** Where each process keeps its helpers' files: tmpfs when there is one, and a directory of its own. */
function workDir(): string {
  const base = (() => {
    try {
      accessSync("/dev/shm", constants.W_OK);
      return statSync("/dev/shm").isDirectory() ? "/dev/shm" : tmpdir();
    } catch {
      return tmpdir();
    }
  })();
  // Directories of plugin processes that died without cleaning up (a crash, SIGKILL).
  try {
    for (const name of readdirSync(base)) {
      const m = /^rds-csi-exec\.(\d+)\./.exec(name);
      if (!m) continue;
      const pid = Number(m[1]);
      let alive = pid !== process.pid;
      try {
        if (alive) process.kill(pid, 0);
      } catch {
        alive = false;
      }
      if (!alive) rmSync(join(base, name), { recursive: true, force: true });
    }
  } catch {
    // best effort: stale directories hold a few empty files
  }
  return mkdtempSync(join(base, `rds-csi-exec.${process.pid}.`));
}

const resolved = new Map<string, string>();

/**
 * execvp's PATH search, done here so the helper always runs a file and never a shell builtin. Looked up
 * against the PATH of the moment, as spawn does; a remembered answer is checked to still exist.
 */
export function resolveExecutable(file: string): string | undefined {
  const path = process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  const key = `${path}\0${file}`;
  const known = resolved.get(key);
  if (known && existsSync(known)) return known;
  const candidates = file.includes("/")
    ? [resolve(file)]
    : path
        .split(delimiter)
        .filter((d) => isAbsolute(d))
        .map((d) => join(d, file));
  const found = firstExecutable(candidates);
  if (found) {
    if (resolved.size > 256) resolved.clear();
    resolved.set(key, found);
  }
  return found;
}

/** The first of these paths that is an executable file (the doctor's `which` uses it too). */
export function firstExecutable(candidates: readonly string[]): string | undefined {
  for (const c of candidates) {
    if (!existsSync(c)) continue; // misses are the rule; an exception per miss costs more than the stat
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return c;
    } catch {
      // not executable
    }
  }
  return undefined;
}

/** The environment commands get: ours, in the C locale (tool output is parsed). */
const commandEnv = (): NodeJS.ProcessEnv => ({ ...process.env, LC_ALL: "C" });

function readOutput(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** One bash process running one command at a time. */
class Helper {
  readonly #prefix: string;
  readonly #child: ChildProcess;
  readonly #onIdle: (h: Helper) => void;
  readonly #onGone: (h: Helper) => void;
  #buf = "";
  #onLine?: (line: string) => void;
  #onLost?: (why: string, neverStarted: boolean) => void;
  #spawned = false;
  gone = false;
  /** Which snapshot of the environment it runs commands in (ExecHelperPool.environmentChanged). */
  readonly generation: number;

  constructor(
    prefix: string,
    env: NodeJS.ProcessEnv,
    generation: number,
    onIdle: (h: Helper) => void,
    onGone: (h: Helper) => void,
  ) {
    this.generation = generation;
    this.#prefix = prefix;
    this.#onIdle = onIdle;
    this.#onGone = onGone;
    this.#child = spawn("bash", ["--noprofile", "--norc", "-c", SCRIPT, "rds-csi-exec", prefix], {
      stdio: ["pipe", "pipe", "ignore"],
      env,
    });
    // Idle helpers must not keep the process alive; a running command keeps its own timer.
    this.#child.unref();
    for (const s of [this.#child.stdin, this.#child.stdout])
      (s as unknown as { unref?: () => void } | null)?.unref?.();
    this.#child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      this.#buf += d;
      for (let i = this.#buf.indexOf("\n"); i >= 0; i = this.#buf.indexOf("\n")) {
        const line = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 1);
        this.#onLine?.(line);
      }
    });
    this.#child.on("spawn", () => {
      this.#spawned = true;
    });
    this.#child.on("error", (e) => this.#lost(`the exec helper failed: ${e.message}`));
    this.#child.on("exit", (code, sig) => this.#lost(`the exec helper exited (${sig ?? `status ${code}`})`));
    this.#child.stdin?.on("error", () => this.#lost("the exec helper closed its input"));
  }

  #lost(why: string): void {
    if (this.gone) return;
    this.gone = true;
    this.#onLost?.(why, !this.#spawned);
    this.#onGone(this);
  }

  /** Runs one command; resolves when it exited, was abandoned as wedged, was aborted, or the helper died. */
  run(exe: string, r: HelperRun): Promise<HelperOutcome> {
    writeFileSync(`${this.#prefix}.argv`, [exe, ...r.args].map((a) => `${a}\0`).join(""));
    if (r.input !== undefined) writeFileSync(`${this.#prefix}.in`, r.input);
    return new Promise((done) => {
      let pid: number | undefined;
      let killWith: NodeJS.Signals | undefined;
      let settled = false;
      let grace: NodeJS.Timeout | undefined;
      const output = () => ({
        stdout: readOutput(`${this.#prefix}.out`),
        stderr: readOutput(`${this.#prefix}.err`),
      });
      const settle = (o: HelperOutcome) => {
        if (settled) return;
        settled = true;
        done(o);
      };
      const stopTimers = () => {
        clearTimeout(timer);
        clearTimeout(grace);
        r.signal?.removeEventListener("abort", onAbort);
      };
      const kill = (sig: NodeJS.Signals) => {
        killWith ??= sig;
        if (pid === undefined) return; // sent as soon as the pid arrives
        try {
          process.kill(pid, sig);
        } catch {
          // already exited; its exit line is on the way
        }
      };
      const timer = setTimeout(() => {
        kill("SIGKILL");
        // A tool in uninterruptible I/O (umount of a dead NVMe device) outlives SIGKILL, and the helper is
        // stuck in `wait` with it. Give up on both so the caller, and the volume lock it holds, go free.
        grace = setTimeout(() => {
          const o = output();
          this.retire();
          settle({ kind: "wedged", ...o });
        }, r.killGraceMs);
      }, r.timeoutMs);
      const onAbort = () => {
        kill("SIGTERM");
        // As with child_process: the caller hears of the abort at once; the helper is reused after the exit.
        settle({ kind: "aborted" });
      };
      this.#onLine = (line) => {
        if (line.startsWith("pid ")) {
          pid = Number(line.slice(4));
          if (killWith) kill(killWith);
        } else if (line.startsWith("exit ")) {
          stopTimers();
          this.#onLine = undefined;
          this.#onLost = undefined;
          // Read before going idle: the next command on this helper truncates the files.
          const o = output();
          settle({
            kind: "exited",
            status: Number(line.slice(5)),
            ...o,
            ...(killWith ? { killedWith: killWith } : {}),
          });
          this.#onIdle(this);
        }
      };
      this.#onLost = (why, neverStarted) => {
        stopTimers();
        settle({ kind: "lost", why, neverStarted });
      };
      if (r.signal?.aborted) {
        this.#onLine = undefined;
        this.#onLost = undefined;
        stopTimers();
        settle({ kind: "aborted" });
        this.#onIdle(this);
        return;
      }
      r.signal?.addEventListener("abort", onAbort, { once: true });
      this.#child.stdin?.write(r.input !== undefined ? "run-in\n" : "run\n");
    });
  }

  retire(): void {
    if (this.gone) return;
    this.#onLost = undefined;
    this.#lost("retired");
    this.#child.stdin?.destroy();
    this.#child.kill("SIGKILL");
  }
}

/**
 * Hands commands to idle helpers, starting new ones up to `max`. Beyond that the caller spawns directly
 * (slower, never queued behind a long mkfs or fsck). Helpers past `maxIdle` exit when they become idle.
 * When the last idle helper is taken, a spare is started on the next turn of the event loop: a command
 * that hangs (a read of a dead device) keeps its helper, and the next command of another RPC should not
 * pay for starting one on its own path.
 */
export class ExecHelperPool {
  readonly #max: number;
  readonly #maxIdle: number;
  readonly #idle: Helper[] = [];
  readonly #all = new Set<Helper>();
  #dir: string | undefined;
  #seq = 0;
  #broken = false;
  #env: NodeJS.ProcessEnv | undefined;
  #generation = 0;
  #spareQueued = false;

  constructor(opts: { max?: number; maxIdle?: number } = {}) {
    this.#max = opts.max ?? 16;
    this.#maxIdle = opts.maxIdle ?? 4;
  }

  get size(): number {
    return this.#all.size;
  }

  /** undefined: no helper available (pool full, or bash cannot be started); spawn directly instead. */
  run(exe: string, r: HelperRun): Promise<HelperOutcome> | undefined {
    if (this.#broken) return undefined;
    const h = this.#idle.pop() ?? this.#start();
    if (this.#idle.length === 0) this.#spareSoon();
    try {
      return h?.run(exe, r);
    } catch (err) {
      // Its files could not be written (the directory was removed, tmpfs is full): spawn directly from now on.
      this.disable();
      throw err;
    }
  }

  /**
   * Helpers run commands in a snapshot of the environment taken when they start: copying the environment
   * for every command costs 25-100 µs. After changing process.env (tests do, for fake tools), call this;
   * idle helpers are replaced and busy ones retire when their command ends.
   */
  environmentChanged(): void {
    this.#env = undefined;
    this.#generation++;
    for (const h of this.#idle.splice(0)) h.retire();
  }

  #spareSoon(): void {
    if (this.#spareQueued) return;
    this.#spareQueued = true;
    const generation = this.#generation;
    setImmediate(() => {
      this.#spareQueued = false;
      // Not after close() or an environment change (both start a new generation).
      if (this.#broken || this.#idle.length > 0 || generation !== this.#generation) return;
      const spare = this.#start();
      if (spare) this.#idle.push(spare);
    });
  }

  /** bash could not be started here: stop trying and let every command spawn directly. */
  disable(): void {
    this.#broken = true;
    this.close();
  }

  #start(): Helper | undefined {
    if (this.#all.size >= this.#max) return undefined;
    try {
      if (!this.#dir) {
        this.#dir = workDir();
        const dir = this.#dir;
        process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
      }
      this.#env ??= commandEnv();
      const h = new Helper(
        join(this.#dir, String(this.#seq++)),
        this.#env,
        this.#generation,
        (idle) => {
          if (idle.gone) return;
          if (this.#idle.length >= this.#maxIdle || idle.generation !== this.#generation) idle.retire();
          else this.#idle.push(idle);
        },
        (gone) => {
          this.#all.delete(gone);
          const i = this.#idle.indexOf(gone);
          if (i >= 0) this.#idle.splice(i, 1);
        },
      );
      this.#all.add(h);
      return h;
    } catch {
      this.#broken = true;
      return undefined;
    }
  }

  close(): void {
    this.#generation++;
    for (const h of [...this.#all]) h.retire();
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}
