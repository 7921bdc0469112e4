// A controller served over a real unix socket, talking over real SSH to the RouterOS simulator.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { createControllerService } from "../../src/controller/controller-service.ts";
import { StaticNodeRegistry } from "../../src/controller/node-registry.ts";
import { type CsiClient, connectCsi } from "../../src/csi/client.ts";
import type { VolumeCapability } from "../../src/csi/generated/csi/v1/VolumeCapability.ts";
import { createIdentityService } from "../../src/csi/identity.ts";
import { CsiServer } from "../../src/csi/server.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import type { RdsClient, RdsConnectionConfig } from "../../src/rds/types.ts";
import { type EmbeddedRds, startEmbeddedRds } from "../../src/sim/embedded.ts";
import type { SimulatorOptions } from "../../src/sim/types.ts";
import { simClient } from "./sim-client.ts";

export const DRIVER = "rds.csi.mikrotik.com";
export const NODES = ["node-a", "node-b", "node-c"];
export const GiB = 1024 ** 3;

export interface ControllerEnv {
  rds: EmbeddedRds;
  client: RdsClient;
  csi: CsiClient;
  socket: string;
  /** Stops the controller (not the simulator) and starts a fresh one on the same appliance. */
  restartController(): Promise<void>;
  close(): Promise<void>;
}

export async function startControllerEnv(
  opts: { sim?: Partial<SimulatorOptions>; rds?: Partial<RdsConnectionConfig> } = {},
): Promise<ControllerEnv> {
  const rds = await startEmbeddedRds({
    pools: [{ name: "storage-pool", sizeBytes: 200 * GiB }],
    ...opts.sim,
  });
  const dir = mkdtempSync(join(tmpdir(), "rds-ctl-"));
  const socket = join(dir, "csi.sock");
  let client!: RdsClient;
  let server!: CsiServer;
  const start = async () => {
    client = simClient(rds, { commandTimeoutMs: 10_000, ...opts.rds });
    const controller = createControllerService({
      rds: client,
      log: silentLogger,
      nodes: new StaticNodeRegistry(NODES),
      driverName: DRIVER,
      volumePath: "storage-pool/k8s",
      nqnPrefix: "nqn.2026-01.com.mikrotik.rds-csi",
      nvmeAddress: "127.0.0.1",
      nvmePort: 4420,
    });
    const c = client;
    server = new CsiServer(
      {
        identity: createIdentityService({
          driverName: DRIVER,
          hasController: true,
          readinessChecks: [() => c.ping()],
        }),
        controller,
      },
      silentLogger,
    );
    await server.listen(`unix://${socket}`);
  };
  await start();
  const env: ControllerEnv = {
    rds,
    get client() {
      return client;
    },
    csi: connectCsi(`unix://${socket}`),
    socket,
    async restartController() {
      await server.shutdown(1000);
      await client.close();
      await start();
    },
    async close() {
      env.csi.close();
      await server.shutdown(1000);
      await client.close();
      await rds.close();
      rmSync(dir, { recursive: true, force: true });
      rmSync(rds.dataDir, { recursive: true, force: true });
    },
  };
  return env;
}

type Mode = NonNullable<NonNullable<VolumeCapability["access_mode"]>["mode"]>;
/** One environment for the whole test file: started before its tests, closed after them. */
export function useControllerEnv(opts: Parameters<typeof startControllerEnv>[0] = {}): () => ControllerEnv {
  let env: ControllerEnv | undefined;
  beforeAll(async () => {
    env = await startControllerEnv(opts);
  });
  afterAll(async () => {
    await env?.close();
  });
  return () => {
    if (!env) throw new Error("controller environment not started");
    return env;
  };
}

export const mountCap = (mode: Mode = "SINGLE_NODE_WRITER", fs_type = "ext4"): VolumeCapability => ({
  mount: { fs_type, mount_flags: [] },
  access_mode: { mode },
});
export const blockCap = (mode: Mode = "SINGLE_NODE_WRITER"): VolumeCapability => ({
  block: {},
  access_mode: { mode },
});

/** The gRPC status code of a rejected call, or "OK". */
export async function codeOf(p: Promise<unknown>): Promise<string | number> {
  try {
    await p;
    return "OK";
  } catch (err) {
    const code = (err as { code?: number }).code;
    return code === undefined ? String(err) : (STATUS_NAMES[code] ?? code);
  }
}

const STATUS_NAMES: Record<number, string> = {
  0: "OK",
  1: "CANCELLED",
  2: "UNKNOWN",
  3: "INVALID_ARGUMENT",
  4: "DEADLINE_EXCEEDED",
  5: "NOT_FOUND",
  6: "ALREADY_EXISTS",
  7: "PERMISSION_DENIED",
  8: "RESOURCE_EXHAUSTED",
  9: "FAILED_PRECONDITION",
  10: "ABORTED",
  11: "OUT_OF_RANGE",
  12: "UNIMPLEMENTED",
  13: "INTERNAL",
  14: "UNAVAILABLE",
};
