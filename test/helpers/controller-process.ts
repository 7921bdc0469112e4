// A real `rds-csi controller` process (bin/rds-csi) on a unix socket, against a simulator: for tests
// where two controllers must not share anything but the appliance (no in-process lock, no cache).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type CsiClient, connectCsi } from "../../src/csi/client.ts";
import type { EmbeddedRds } from "../../src/sim/embedded.ts";

const BIN = resolve(import.meta.dirname, "../../bin/rds-csi");

export interface ControllerProcess {
  csi: CsiClient;
  child: ChildProcess;
  /** Everything the process logged (JSON lines), for assertions on what it did. */
  output(): string;
  stop(): Promise<void>;
}

export async function startControllerProcess(
  rds: EmbeddedRds,
  extraFlags: string[] = [],
): Promise<ControllerProcess> {
  const dir = mkdtempSync(join(tmpdir(), "rds-ctlproc-"));
  const sock = join(dir, "csi.sock");
  const child = spawn(
    BIN,
    [
      "controller",
      "--endpoint",
      `unix://${sock}`,
      "--known-nodes",
      "node-a,node-b,node-c",
      "--volume-path",
      "storage-pool/k8s",
      "--nvme-address",
      "127.0.0.1",
      ...rds.driverFlags(),
      ...extraFlags,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  for (let i = 0; i < 400 && !existsSync(sock) && child.exitCode === null; i++)
    await new Promise((r) => setTimeout(r, 25));
  if (!existsSync(sock)) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`controller process did not start: ${out.slice(-2000)}`);
  }
  const csi = connectCsi(`unix://${sock}`);
  return {
    csi,
    child,
    output: () => out,
    async stop() {
      csi.close();
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
