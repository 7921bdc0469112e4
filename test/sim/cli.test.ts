// `rds-csi sim` entry (runSimCli) as a separate process: flags, the ready line, answering over SSH,
// a clean exit on SIGTERM; and persistence across restarts (same host key, same disks and files).
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { parseListen, parsePoolSpec } from "../../src/sim/cli.ts";
import type { Simulator } from "../../src/sim/types.ts";
import { clientKey, connect, runAll, startTestSim, tempDir } from "./helpers.ts";

const runner = join(import.meta.dirname, "fixtures", "run-sim-cli.ts");
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function startCli(args: string[]): {
  child: ChildProcess;
  ready: Promise<Record<string, string>>;
  exit: Promise<number | null>;
} {
  const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", runner, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const ready = new Promise<Record<string, string>>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", (line) => {
      const m = /^rds-csi sim ready (.*)$/.exec(line);
      if (!m) return reject(new Error(`unexpected first line: ${line}`));
      resolve(Object.fromEntries(m[1]!.split(" ").map((kv) => kv.split("=", 2) as [string, string])));
    });
    exit.then((code) => reject(new Error(`exited ${code} before ready: ${stderr}`)));
  });
  ready.catch(() => undefined); // tests that expect a failed start only await `exit`
  cleanups.push(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  return { child, ready, exit };
}

describe("rds-csi sim", () => {
  it("starts, prints host/port/fingerprint, answers over SSH and exits cleanly on SIGTERM", async () => {
    const d = tempDir();
    cleanups.push(d.remove);
    const keys = join(d.dir, "authorized_keys");
    writeFileSync(keys, `# test key\n${clientKey.public}\n`);
    const { child, ready, exit } = startCli([
      "--listen",
      "127.0.0.1:0",
      "--data",
      join(d.dir, "data"),
      "--authorized-keys",
      keys,
      "--pool",
      "pool-a:2G",
      "--pool",
      "pool-b:1T:btrfs",
      "--wrap-width",
      "0",
      "--error-stream",
      "stderr",
      "--version",
      "7.21.5",
      "--disk-full",
    ]);
    const info = await ready;
    expect(info).toMatchObject({ host: "127.0.0.1", fingerprint: expect.stringMatching(/^SHA256:/) });
    const sim = { host: info.host!, port: Number(info.port) } as Simulator;
    const [version, pools, add] = await runAll(sim, [
      ":put [/system resource get version]",
      ":put [/disk print as-value where type=raid]",
      "/disk add type=file slot=x file-path=pool-a/x.img file-size=1M",
    ]);
    expect(version?.stdout).toBe("7.21.5 (stable)\r\n");
    const [poolA, poolB] = (pools?.stdout ?? "").trim().split(/(?=\.id=)/);
    expect(poolA).toContain(";size=2147483648;slot=pool-a;");
    expect(poolA).toContain(";fs=xfs;");
    expect(poolB).toContain(";size=1099511627776;slot=pool-b;");
    expect(poolB).toContain(";fs=btrfs;");
    expect(add).toEqual({ stdout: "", stderr: "failure: not enough space\r\n", code: 1 });
    child.kill("SIGTERM");
    expect(await exit).toBe(0);
  });

  it("takes the cost model's flags: a profile refined by per-command, pattern and per-exec latencies", async () => {
    const d = tempDir();
    cleanups.push(d.remove);
    const keys = join(d.dir, "authorized_keys");
    writeFileSync(keys, `${clientKey.public}\n`);
    const { child, ready, exit } = startCli([
      "--listen",
      "127.0.0.1:0",
      "--data",
      join(d.dir, "data"),
      "--authorized-keys",
      keys,
      "--profile",
      "rds-hardware",
      "--latency-ms",
      "30",
      "--command-latency",
      '^:put "slow"=150',
      "--exec-latency-ms",
      "20",
    ]);
    const info = await ready;
    const sim = { host: info.host!, port: Number(info.port) } as Simulator;
    const s = await connect(sim);
    // Lower bounds only (sleeps never end early by more than a timer tick): 20 + 3 × 30, and 20 + 150.
    let t0 = performance.now();
    expect((await s.exec(":put a; :put b; :put c")).stdout).toBe("a\r\nb\r\nc\r\n");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110 - 2);
    t0 = performance.now();
    expect((await s.exec(':put "slow"')).stdout).toBe("slow\r\n");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(170 - 2);
    s.close();
    child.kill("SIGTERM");
    expect(await exit).toBe(0);
    for (const bad of [
      ["--profile", "slow"],
      ["--command-latency", "no-ms"],
      ["--exec-latency-ms", "-1"],
    ]) {
      const r = startCli([
        "--listen",
        "127.0.0.1:0",
        "--data",
        join(d.dir, "data"),
        "--authorized-keys",
        keys,
        ...bad,
      ]);
      expect(await r.exit).not.toBe(0);
    }
  });

  it("rejects bad flags", async () => {
    const { exit } = startCli(["--listen", "nowhere", "--data", "/tmp/x", "--authorized-keys", "/dev/null"]);
    expect(await exit).not.toBe(0);
    expect(parsePoolSpec("p:100G:xfs")).toEqual({ name: "p", sizeBytes: 100 * 2 ** 30, fs: "xfs" });
    expect(parsePoolSpec("p:4096")).toEqual({ name: "p", sizeBytes: 4096 });
    expect(() => parsePoolSpec("p:lots")).toThrow(/NAME:SIZE/);
    expect(() => parsePoolSpec("p:1G:zfs")).toThrow(/FS must be/);
    expect(parseListen("[::1]:2222")).toEqual({ host: "::1", port: 2222 });
    expect(() => parseListen("host:99999")).toThrow(/HOST:PORT/);
  });
});

describe("persistence across restarts", () => {
  it("keeps the host key, disks, ids and files", async () => {
    const d = tempDir();
    cleanups.push(d.remove);
    const first = await startTestSim({ dataDir: d.dir });
    const [, add, before] = await runAll(first, [
      "/file add type=directory name=storage-pool/k8s",
      ':put [/disk add type=file slot=keep file-path=storage-pool/k8s/keep.img file-size=1G nvme-tcp-export=yes comment="c 1"]',
      '/disk print detail where slot="keep"',
    ]);
    const fingerprint = first.hostKeyFingerprint;
    await first.close();

    const second = await startTestSim({ dataDir: d.dir });
    cleanups.push(() => second.close());
    expect(second.hostKeyFingerprint).toBe(fingerprint);
    expect(second.hostPublicKey).toBe(first.hostPublicKey);
    const s = await connect(second, { hostKeyFingerprint: fingerprint });
    expect((await s.exec('/disk print detail where slot="keep"')).stdout).toBe(before?.stdout);
    expect((await s.exec(':put [/disk find slot="keep"]')).stdout).toBe(add?.stdout);
    expect((await s.exec(':put [:len [/file find name="storage-pool/k8s/keep.img"]]')).stdout).toBe("1\r\n");
    // A new item gets a fresh id, never one already used.
    const id2 = (
      await s.exec(":put [/disk add type=file slot=new file-path=storage-pool/k8s/new.img file-size=1M]")
    ).stdout;
    expect(id2).not.toBe(add?.stdout);
    s.close();
  });
});
