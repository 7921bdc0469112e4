// What the controller benchmarks share: a controller service behind a real CSI socket, talking over
// SSH to an RDS (simulated in-process or in its own process).
import { join } from "node:path";
import { createControllerService } from "../src/controller/controller-service.ts";
import { StaticNodeRegistry } from "../src/controller/node-registry.ts";
import { type CsiClient, connectCsi } from "../src/csi/client.ts";
import { createIdentityService } from "../src/csi/identity.ts";
import { CsiServer } from "../src/csi/server.ts";
import { silentLogger } from "../src/observability/logger.ts";
import { createRdsClient } from "../src/rds/client.ts";
import type { RdsClient } from "../src/rds/types.ts";

export const DRIVER_NAME = "rds.csi.mikrotik.com";

export interface ServedController {
  csi: CsiClient;
  client: RdsClient;
  stop(): Promise<void>;
}

export async function serveController(
  socketDir: string,
  rds: {
    host: string;
    port: number;
    user: string;
    privateKey: string;
    hostKey: string;
    commandTimeoutMs?: number;
  },
): Promise<ServedController> {
  const client = createRdsClient(rds, silentLogger);
  const controller = createControllerService({
    rds: client,
    log: silentLogger,
    nodes: new StaticNodeRegistry(["n1"]),
    driverName: DRIVER_NAME,
    volumePath: "storage-pool/bench",
    nqnPrefix: "nqn.2026-01.com.mikrotik.rds-csi",
    nvmeAddress: "127.0.0.1",
    nvmePort: 4420,
  });
  const server = new CsiServer(
    {
      identity: createIdentityService({ driverName: DRIVER_NAME, hasController: true, readinessChecks: [] }),
      controller,
    },
    silentLogger,
  );
  const csi = connectCsi(await server.listen(`unix://${join(socketDir, "csi.sock")}`));
  return {
    csi,
    client,
    async stop() {
      csi.close();
      await server.shutdown(1000);
      await client.close();
    },
  };
}
