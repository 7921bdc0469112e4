// Issue 13 item 3: the in-use check before a detach scans /proc/*/fd. In a pod without hostPID that scan
// sees only the plugin's own container, so a qemu, a backup agent or a `dd` on the host holding the
// device went unnoticed and NodeUnstage disconnected under it. The chart runs the node plugin with
// hostPID: true; on a host PID namespace the scan meets every process's descriptors, including ones
// into hung FUSE/NFS mounts, where a stat() never returns: the scan must not follow those.
//
// The plugin runs here as its own process (bin/rds-csi node, loop transport) launched the way the chart
// runs it: read from the chart's node template, hostPID true → the host PID namespace, otherwise its own
// (`unshare --pid --fork --mount-proc`); in both cases its own mount namespace, as in a container.
// The holders are processes of this (host) PID namespace, outside the plugin's.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { connectCsi } from "../../src/csi/client.ts";
import { Code } from "../../src/csi/errors.ts";
import {
  blockCap,
  cleanupWorkdir,
  codeOf,
  createImage,
  loopContext,
  loopsUnder,
  MiB,
  makeWorkdir,
} from "./helpers.ts";

const REPO = resolve(import.meta.dirname, "../..");
const NODE_TEMPLATE = join(REPO, "deploy/helm/rds-csi/templates/node.yaml");
const chartHostPid = /^\s*hostPID:\s*true\s*$/m.test(readFileSync(NODE_TEMPLATE, "utf8"));

let dir: string;
let root: string;
const children: ChildProcess[] = [];
const cleanups: Array<() => void> = [];

beforeEach(async () => {
  dir = await makeWorkdir("hostpid");
  root = join(dir, "rds");
  await mkdir(root);
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) c();
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await cleanupWorkdir(dir);
});

function track(c: ChildProcess): ChildProcess {
  children.push(c);
  return c;
}

/** The node plugin in its own mount namespace, and in the PID namespace the chart gives it. */
async function startPlugin(): Promise<ReturnType<typeof connectCsi>> {
  const sock = join(dir, "csi.sock");
  const ns = chartHostPid ? ["--mount"] : ["--mount", "--pid", "--fork", "--mount-proc", "--kill-child"];
  const p = track(
    spawn(
      "unshare",
      [
        ...ns,
        join(REPO, "bin/rds-csi"),
        "node",
        "--transport=loop",
        `--loop-root=${root}`,
        `--endpoint=unix://${sock}`,
        "--node-id=node-a",
        "--log-level=error",
      ],
      { stdio: ["ignore", "inherit", "inherit"] },
    ),
  );
  for (let i = 0; i < 200 && !existsSync(sock); i++) {
    if (p.exitCode !== null) throw new Error(`the node plugin exited with ${p.exitCode}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const client = connectCsi(`unix://${sock}`);
  cleanups.push(() => client.close());
  return client;
}

/** A process of this PID namespace that holds `path` open on its stdin; resolves once it does. */
async function holdOpen(path: string): Promise<ChildProcess> {
  const h = track(spawn("bash", ["-c", `exec sleep 600 < '${path}'`], { stdio: "ignore" }));
  for (let i = 0; i < 100; i++) {
    try {
      if (readFileSync(`/proc/${h.pid}/cmdline`, "utf8").startsWith("sleep")) return h;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`could not hold ${path} open`);
}

async function stageBlock(client: ReturnType<typeof connectCsi>, id: string) {
  await createImage(root, `pool/${id}.img`, 16 * MiB);
  const staging = join(dir, "staging", id);
  await client.node.NodeStageVolume(
    {
      volume_id: id,
      staging_target_path: staging,
      publish_context: loopContext(`pool/${id}.img`),
      volume_capability: blockCap(),
    },
    { deadlineMs: 20_000 },
  );
  const loops = loopsUnder(root);
  expect(loops).toHaveLength(1);
  return { staging, device: `/dev/${loops[0]}` };
}

describe("the in-use check of the node plugin as the chart runs it", () => {
  it("the chart gives the node plugin the host PID namespace", () => {
    expect(chartHostPid).toBe(true);
  });

  it("refuses NodeUnstage while a process outside the plugin's container holds the device", async () => {
    const client = await startPlugin();
    const { staging, device } = await stageBlock(client, "held");
    const holder = await holdOpen(device);
    const r = await codeOf(
      client.node.NodeUnstageVolume(
        { volume_id: "held", staging_target_path: staging },
        { deadlineMs: 20_000 },
      ),
    );
    expect(r.code).toBe(Code.FAILED_PRECONDITION);
    expect(r.message).toContain(`process ${holder.pid} (sleep)`);
    expect(loopsUnder(root)).toHaveLength(1); // still attached
    holder.kill("SIGKILL");
    await new Promise((r) => holder.once("exit", r));
    await client.node.NodeUnstageVolume(
      { volume_id: "held", staging_target_path: staging },
      { deadlineMs: 20_000 },
    );
    expect(loopsUnder(root)).toEqual([]);
  });

  it("answers within its deadline when another process holds a file open on a hung FUSE mount", async () => {
    const fuse = join(dir, "fuse");
    await mkdir(fuse);
    const daemon = track(
      spawn("python3", [join(REPO, "test/node/fixtures/hung-fuse.py"), fuse], {
        stdio: ["ignore", "pipe", "inherit"],
      }),
    );
    await new Promise<void>((ok, fail) => {
      daemon.stdout?.once("data", () => ok());
      daemon.once("exit", (c) => fail(new Error(`hung-fuse.py exited with ${c}`)));
    });
    // Last to run: killing the daemon aborts the connection, so every waiting request ends; then unmount.
    cleanups.push(() => {
      daemon.kill("SIGKILL");
      spawnSync("umount", ["-l", fuse]);
    });
    const client = await startPlugin();
    const { staging, device } = await stageBlock(client, "fuse");
    const onFuse = await holdOpen(join(fuse, "file"));
    const holder = await holdOpen(device);
    daemon.kill("SIGSTOP"); // the FUSE mount hangs from here on
    const started = Date.now();
    const r = await codeOf(
      client.node.NodeUnstageVolume(
        { volume_id: "fuse", staging_target_path: staging },
        { deadlineMs: 10_000 },
      ),
    );
    expect(r.code, r.message).toBe(Code.FAILED_PRECONDITION);
    expect(r.message).toContain(`process ${holder.pid} (sleep)`);
    expect(r.message).not.toContain(`process ${onFuse.pid} `);
    expect(Date.now() - started).toBeLessThan(10_000);
    holder.kill("SIGKILL");
    await new Promise((r) => holder.once("exit", r));
    await client.node.NodeUnstageVolume(
      { volume_id: "fuse", staging_target_path: staging },
      { deadlineMs: 10_000 },
    );
    expect(loopsUnder(root)).toEqual([]);
  });
});
