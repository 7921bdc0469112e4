// The node service runs mount/umount/mkfs through src/util/exec.ts; a tool that cannot be reaped
// (stuck in uninterruptible I/O on a dead device) must not wedge the call, or the volume lock it holds.
// A killed parent whose background child keeps the output pipe open shows the same symptom: the child
// process is gone but its streams never close.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { ExecError, run } from "../../src/util/exec.ts";
import { cleanupWorkdir, makeWorkdir } from "./helpers.ts";

let dir: string | undefined;
let straggler: number | undefined;

afterEach(async () => {
  if (straggler) {
    try {
      process.kill(straggler, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await cleanupWorkdir(dir);
});

it("gives up on a timed-out command whose output never closes", async () => {
  dir = await makeWorkdir("exec");
  const pidFile = join(dir, "pid");
  const p = run("bash", ["-c", `sleep 60 & echo $! > ${pidFile}; wait`], { timeoutMs: 300 });
  const err = await p.catch((e: unknown) => e);
  straggler = Number(readFileSync(pidFile, "utf8"));
  expect(err).toBeInstanceOf(ExecError);
  expect((err as ExecError).message).toMatch(/timed out after 300 ms and did not exit after SIGKILL/);
}, 15_000);
