// A timed-out command keeps running on the appliance: closing the SSH channel does not stop a `/disk add`
// that allocates a large file. The simulator's slowAllocation fault plays that (the file appears and
// grows, the disk item comes at the end). A retried CreateVolume must not take the growing file for a
// leftover and remove it: it answers ABORTED until the earlier command has settled, then finds the volume.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createControllerService } from "../../src/controller/controller-service.ts";
import { StaticNodeRegistry } from "../../src/controller/node-registry.ts";
import { Code, CsiError } from "../../src/csi/errors.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { type RdsClient, RdsError } from "../../src/rds/types.ts";
import { type EmbeddedRds, startEmbeddedRds } from "../../src/sim/embedded.ts";
import { DRIVER, GiB, mountCap } from "../helpers/controller-env.ts";
import { simClient } from "../helpers/sim-client.ts";

let rds: EmbeddedRds;
const clients: RdsClient[] = [];

beforeAll(async () => {
  rds = await startEmbeddedRds({ pools: [{ name: "storage-pool", sizeBytes: 100 * GiB }] });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await rds?.close();
});

/** A controller with a short command timeout (the allocating /disk add gets 4x: 1.2 s). */
function controller() {
  const client = simClient(rds, { commandTimeoutMs: 300 });
  clients.push(client);
  return createControllerService({
    rds: client,
    log: silentLogger,
    nodes: new StaticNodeRegistry(["node-a"]),
    driverName: DRIVER,
    volumePath: "storage-pool/k8s",
    nqnPrefix: "nqn.2026-01.com.mikrotik.rds-csi",
    nvmeAddress: "127.0.0.1",
    nvmePort: 4420,
    settle: { quietMs: 4000, probeMs: 700 },
  });
}

const CALL = {
  method: "CreateVolume",
  requestId: "t",
  log: silentLogger,
  signal: new AbortController().signal,
};
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => "OK",
    (e: unknown) =>
      e instanceof CsiError ? Code[e.code] : e instanceof RdsError ? `rds:${e.kind}` : String(e),
  );
const removes = () => rds.sim.commandLog.filter((e) => e.command.includes("/file remove")).length;

describe("a /disk add that outlives its timeout", () => {
  it("is never cleaned up under its feet; the retries find the volume once it is done", async () => {
    const name = "pvc-00000001-0000-4000-8000-00000000510e";
    const req = {
      name,
      capacity_range: { required_bytes: String(GiB) },
      volume_capabilities: [mountCap() as never],
    };
    const one = controller();
    rds.sim.faults.slowAllocation(3000);
    const started = Date.now();
    expect(await outcome(one.CreateVolume(req as never, CALL))).toBe("rds:timeout");
    const before = removes();

    // The same controller remembers its timed-out add: ABORTED at once, nothing removed.
    expect(await outcome(one.CreateVolume(req as never, CALL))).toBe("ABORTED");
    // Another controller (a replica, or after a restart) sees the file still growing: ABORTED too.
    expect(await outcome(controller().CreateVolume(req as never, CALL))).toBe("ABORTED");
    expect(removes()).toBe(before);

    // The first add completes on the appliance; then a retry returns that volume.
    await new Promise((r) => setTimeout(r, Math.max(0, 3500 - (Date.now() - started))));
    rds.sim.faults.clear();
    const done = await controller().CreateVolume(req as never, CALL);
    expect(done.volume?.volume_id).toBe(name);
    expect(removes()).toBe(before);
    const disk = await clients[0]!.getDisk(name);
    expect(disk?.sizeBytes).toBe(GiB);
    expect((await clients[0]!.getFile(disk!.filePath))?.sizeBytes).toBe(GiB);
  }, 30_000);
});
