// src/util/exec.ts starts every host tool of the node plugin (mount, mkfs, losetup, nvme, ...). Commands go
// through a pool of bash helpers (exec-helper.ts) and fall back to spawning directly; both paths must give
// the same results, keep arguments away from any shell, and never let a hung tool wedge the caller.
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  ExecError,
  type ExecMode,
  execEnvironmentChanged,
  execHelperCount,
  run,
  setExecMode,
} from "../../src/util/exec.ts";

let dir: string;
const stragglers: number[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rds-exec-"));
});
afterAll(async () => {
  setExecMode("helper");
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  for (const pid of stragglers.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitForFile(path: string): Promise<string> {
  for (let i = 0; i < 200 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 10));
  return readFileSync(path, "utf8").trim();
}

describe.each<ExecMode>(["helper", "direct"])("run() through %s", (mode) => {
  beforeAll(() => setExecMode(mode));

  it("passes arguments through literally: no shell, no builtin of the same name", async () => {
    const args = ["a b", "'q'", '"dq"', "$HOME", "; rm -rf /", "`id`", "*", "", "line\nbreak", "ü"];
    // printf is also a bash builtin; /usr/bin/printf must run, and it sees exactly these arguments.
    const r = await run("printf", ["[%s]", ...args]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(args.map((a) => `[${a}]`).join(""));
  });

  it("captures stdout and stderr separately and completely, and the exit status", async () => {
    const r = await run("sh", ["-c", "head -c 3000000 /dev/zero | tr '\\0' x; printf 'err' >&2; exit 3"]);
    expect(r.code).toBe(3);
    expect(r.signal).toBeNull();
    expect(r.stdout.length).toBe(3_000_000);
    expect(r.stdout.replaceAll("x", "")).toBe("");
    expect(r.stderr).toBe("err");
  });

  it("feeds input on stdin, and gives an empty stdin otherwise", async () => {
    expect((await run("cat", [], { input: "hello\nworld" })).stdout).toBe("hello\nworld");
    expect((await run("cat", [])).stdout).toBe("");
  });

  it("rejects a command that does not exist the way spawn does (ENOENT)", async () => {
    const err = (await run("rds-csi-no-such-tool", []).catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(err.code).toBe("ENOENT");
  });

  it("runs in the environment as of the last execEnvironmentChanged(), in the C locale", async () => {
    process.env.RDS_CSI_EXEC_TEST = "one";
    execEnvironmentChanged();
    expect((await run("sh", ["-c", 'echo "$RDS_CSI_EXEC_TEST $LC_ALL"'])).stdout).toBe("one C\n");
    process.env.RDS_CSI_EXEC_TEST = "two";
    execEnvironmentChanged();
    expect((await run("sh", ["-c", 'echo "$RDS_CSI_EXEC_TEST"'])).stdout).toBe("two\n");
    delete process.env.RDS_CSI_EXEC_TEST;
    execEnvironmentChanged();
  });

  it("kills a command at its deadline and says so", async () => {
    const started = performance.now();
    const err = await run("sleep", ["30"], { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecError);
    expect((err as ExecError).message).toMatch(/timed out after 200 ms/);
    expect((err as ExecError).result.signal).toBe("SIGKILL");
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it("aborts a running command on the caller's signal, and the process goes away", async () => {
    const pidFile = join(dir, `abort-${mode}`);
    const ac = new AbortController();
    const p = run("sh", ["-c", `echo $$ > ${pidFile}; exec sleep 30`], { signal: ac.signal });
    const pid = Number(await waitForFile(pidFile));
    ac.abort();
    const err = (await p.catch((e: unknown) => e)) as Error;
    expect(err.name).toBe("AbortError");
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 10));
    expect(alive(pid)).toBe(false);
  });

  it("runs many commands at once", async () => {
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => run("sh", ["-c", `sleep 0.3; echo ${i}`])),
    );
    expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 40 }, (_, i) => String(i)));
    expect(performance.now() - started).toBeLessThan(5000); // concurrently, not 40 × 0.3 s
    expect(execHelperCount()).toBeLessThanOrEqual(16);
  });
});

describe("the helper path specifically", () => {
  beforeAll(() => setExecMode("helper"));

  it("starts commands from a helper process, not from this (large) process", async () => {
    const viaHelper = Number((await run("sh", ["-c", "echo $PPID"])).stdout);
    expect(viaHelper).not.toBe(process.pid);
    expect(readFileSync(`/proc/${viaHelper}/comm`, "utf8").trim()).toBe("bash");
    setExecMode("direct");
    expect(Number((await run("sh", ["-c", "echo $PPID"])).stdout)).toBe(process.pid);
    setExecMode("helper");
  });

  it("reports a signal only for its own kill; a tool killed by someone else shows as exit 128+N", async () => {
    const r = await run("sh", ["-c", "kill -TERM $$"]);
    expect(r).toMatchObject({ code: 143, signal: null });
  });

  it("returns at the deadline even when the command's children keep running", async () => {
    // With pipes, a background grandchild holding stdout open kept the call waiting; the helper
    // redirects to files, so the command's own exit is all that counts.
    const pidFile = join(dir, "straggler");
    const started = performance.now();
    const err = await run("bash", ["-c", `sleep 60 & echo $! > ${pidFile}; wait`], { timeoutMs: 300 }).catch(
      (e: unknown) => e,
    );
    stragglers.push(Number(await waitForFile(pidFile)));
    expect((err as ExecError).message).toMatch(/timed out after 300 ms$/);
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it("gives up on a helper that cannot reap its command (uninterruptible I/O), then carries on", async () => {
    // A tool stuck in D state outlives SIGKILL and its helper waits forever. Stopping the helper makes
    // the same picture: the command is killed but no exit status ever arrives.
    const pidFile = join(dir, "wedged");
    const p = run("sh", ["-c", `echo $PPID > ${pidFile}; exec sleep 60`], { timeoutMs: 300 });
    const helper = Number(await waitForFile(pidFile));
    process.kill(helper, "SIGSTOP");
    stragglers.push(helper);
    const err = await p.catch((e: unknown) => e);
    expect((err as ExecError).message).toMatch(/timed out after 300 ms and did not exit after SIGKILL/);
    for (let i = 0; i < 100 && alive(helper); i++) await new Promise((r) => setTimeout(r, 10));
    expect(alive(helper)).toBe(false); // retired, not reused
    expect((await run("sh", ["-c", "echo fine"])).stdout).toBe("fine\n");
  }, 20_000);

  it("replaces a helper that died while idle", async () => {
    const helper = Number((await run("sh", ["-c", "echo $PPID"])).stdout);
    process.kill(helper, "SIGKILL");
    for (let i = 0; i < 100 && alive(helper); i++) await new Promise((r) => setTimeout(r, 10));
    expect((await run("sh", ["-c", "echo again"])).stdout).toBe("again\n");
  });

  it("reports a command whose helper died under it as failed, outcome unknown", async () => {
    const pidFile = join(dir, "orphaned");
    const p = run("sh", ["-c", `echo $PPID > ${pidFile}; exec sleep 2`]);
    const helper = Number(await waitForFile(pidFile));
    process.kill(helper, "SIGKILL");
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecError);
    expect((err as ExecError).message).toMatch(/exec helper exited .*outcome is unknown/);
  });

  // Last in this file: it leaves the pool disabled for the rest of the process.
  it("spawns directly from then on when the helpers' directory is gone", async () => {
    expect((await run("sh", ["-c", "echo $PPID"])).stdout.trim()).not.toBe(String(process.pid));
    let removed = 0;
    for (const base of ["/dev/shm", tmpdir()].filter((b) => existsSync(b)))
      for (const d of readdirSync(base).filter((n) => n.startsWith(`rds-csi-exec.${process.pid}.`))) {
        rmSync(join(base, d), { recursive: true, force: true });
        removed++;
      }
    expect(removed).toBe(1);
    const r = await run("sh", ["-c", "echo $PPID; echo still works"]);
    expect(r.stdout).toBe(`${process.pid}\nstill works\n`);
    expect(execHelperCount()).toBe(0);
  });
});
