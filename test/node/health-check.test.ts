// Issue 13 item 8: NodeStage must not run a full `e2fsck -f -n` by default (minutes on a large volume,
// past kubelet's deadline, so every retry got ABORTED). The default is the fast check — the superblock's
// state, error count and journal flag — and the full read-only check stays an option; every tool the
// stage starts ends with the RPC (its cancellation or deadline). A wrapper `e2fsck` first on PATH records
// each call and runs the real one; a second wrapper hangs, to show the RPC's cancellation ends it.
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Code } from "../../src/csi/errors.ts";
import {
  createNodeService,
  type NodeServiceHandle,
  type NodeServiceOptions,
} from "../../src/node/node-service.ts";
import { execEnvironmentChanged } from "../../src/util/exec.ts";
import {
  capOut,
  cleanupWorkdir,
  codeOf,
  createImage,
  ctx,
  isMounted,
  loopContext,
  loopsUnder,
  MiB,
  makeWorkdir,
  mountCap,
  sh,
} from "./helpers.ts";

let dir: string;
let root: string;
let fake: string;
let svc: NodeServiceHandle | undefined;
const PATH = process.env.PATH;
const realE2fsck = sh("bash", ["-c", "command -v e2fsck"]).trim();

beforeEach(async () => {
  dir = await makeWorkdir("fsck");
  root = join(dir, "rds");
  fake = join(dir, "bin");
  await mkdir(root);
  await mkdir(fake);
});

afterEach(async () => {
  process.env.PATH = PATH;
  execEnvironmentChanged();
  await svc?.close();
  svc = undefined;
  await cleanupWorkdir(dir);
});

async function start(extra: Partial<NodeServiceOptions> = {}): Promise<NodeServiceHandle> {
  svc = createNodeService({
    nodeId: "node-a",
    transport: "loop",
    loopRoot: root,
    probeRetryDelayMs: 50,
    ...extra,
  });
  await svc.start();
  return svc;
}

/** An e2fsck first on PATH: `record` logs its arguments and runs the real one; `hang` sleeps in its place. */
async function wrapE2fsck(kind: "record" | "hang"): Promise<string> {
  const log = join(dir, "e2fsck.log");
  const body =
    kind === "record"
      ? `echo "$*" >> ${log}\nexec ${realE2fsck} "$@"\n`
      : `echo $$ > ${log}\nexec sleep 30\n`;
  await writeFile(join(fake, "e2fsck"), `#!/bin/bash\n${body}`);
  await chmod(join(fake, "e2fsck"), 0o755);
  process.env.PATH = `${fake}:${PATH}`;
  execEnvironmentChanged();
  return log;
}

function stageReq(id: string, file: string) {
  return {
    volume_id: id,
    staging_target_path: join(dir, "staging", id),
    publish_context: loopContext(file),
    volume_capability: capOut(mountCap("ext4")),
    secrets: {},
    volume_context: {},
  };
}

async function ext4Image(rel: string): Promise<string> {
  const p = await createImage(root, rel, 64 * MiB);
  sh("mkfs.ext4", ["-q", "-m", "0", p]);
  return p;
}

describe("health check at stage", () => {
  it("by default checks the superblock and runs no full e2fsck on a clean filesystem", async () => {
    await ext4Image("pool/clean.img");
    const log = await wrapE2fsck("record");
    const s = await start();
    const req = stageReq("clean", "pool/clean.img");
    await s.NodeStageVolume(req, ctx());
    expect(isMounted(req.staging_target_path)).toBe(true);
    const calls = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").filter(Boolean) : [];
    expect(calls.filter((c) => /(^|\s)-f(\s|$)/.test(c))).toEqual([]);
    await s.NodeUnstageVolume({ volume_id: "clean", staging_target_path: req.staging_target_path }, ctx());
  });

  it("by default refuses a filesystem whose superblock records errors, untouched", async () => {
    const p = await ext4Image("pool/errors.img");
    sh("debugfs", ["-w", "-R", "ssv state 3", p]); // VALID | ERROR: the kernel saw an error
    sh("debugfs", ["-w", "-R", "ssv error_count 2", p]);
    const s = await start();
    const req = stageReq("errors", "pool/errors.img");
    const r = await codeOf(s.NodeStageVolume(req, ctx()));
    expect(r.code).toBe(Code.FAILED_PRECONDITION);
    expect(r.message).toMatch(/error/);
    expect(isMounted(req.staging_target_path)).toBe(false);
    expect(loopsUnder(root)).toEqual([]);
  });

  it("still runs the full read-only check when asked to (node option full)", async () => {
    await ext4Image("pool/full.img");
    const log = await wrapE2fsck("record");
    const s = await start({ healthCheck: "full" });
    const req = stageReq("full", "pool/full.img");
    await s.NodeStageVolume(req, ctx());
    expect(readFileSync(log, "utf8")).toMatch(/-f -n /);
    await s.NodeUnstageVolume({ volume_id: "full", staging_target_path: req.staging_target_path }, ctx());
  });

  it("runs the full read-only check when the StorageClass asks for it (volume_context), on a fast-default node", async () => {
    await ext4Image("pool/class-full.img");
    const log = await wrapE2fsck("record");
    const s = await start();
    const req = {
      ...stageReq("class-full", "pool/class-full.img"),
      volume_context: { "rds.csi/health-check": "full" },
    };
    await s.NodeStageVolume(req, ctx());
    expect(readFileSync(log, "utf8")).toMatch(/-f -n /);
    await s.NodeUnstageVolume(
      { volume_id: "class-full", staging_target_path: req.staging_target_path },
      ctx(),
    );
    const bad = { ...req, volume_context: { "rds.csi/health-check": "off" } };
    expect((await codeOf(s.NodeStageVolume(bad, ctx()))).code).toBe(Code.INVALID_ARGUMENT);
    expect(loopsUnder(root)).toEqual([]);
  });

  it("ends the checker when the RPC is cancelled, and rolls the attach back", async () => {
    await ext4Image("pool/slow.img");
    const log = await wrapE2fsck("hang");
    const s = await start({ healthCheck: "full" });
    const req = stageReq("slow", "pool/slow.img");
    const ac = new AbortController();
    const started = performance.now();
    const staged = codeOf(s.NodeStageVolume(req, ctx(ac.signal)));
    for (let i = 0; i < 100 && !existsSync(log); i++) await new Promise((r) => setTimeout(r, 50));
    const pid = Number(readFileSync(log, "utf8").trim());
    expect(pid).toBeGreaterThan(0);
    ac.abort();
    await staged;
    expect(performance.now() - started).toBeLessThan(10_000); // not the checker's 30 s
    let alive = true;
    for (let i = 0; i < 40 && alive; i++) {
      try {
        process.kill(pid, 0);
        await new Promise((r) => setTimeout(r, 50));
      } catch {
        alive = false;
      }
    }
    expect(alive, "the checker outlived the cancelled RPC").toBe(false);
    expect(isMounted(req.staging_target_path)).toBe(false);
    expect(loopsUnder(root)).toEqual([]);
  });
});
