// Some RouterOS builds close an exec channel without sending an exit status. After the success sentinel
// the command is known to have succeeded (the sentinel runs only after every command did); without the
// sentinel the outcome is unknown and stays "unavailable".
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RdsClient, RdsError } from "../../src/rds/types.ts";
import { type EmbeddedRds, startEmbeddedRds } from "../../src/sim/embedded.ts";
import { simClient } from "../helpers/sim-client.ts";

let rds: EmbeddedRds;
let client: RdsClient;

beforeAll(async () => {
  rds = await startEmbeddedRds({});
  client = simClient(rds);
});

afterAll(async () => {
  await client?.close();
  await rds?.close();
});

describe("a channel that closes without an exit status", () => {
  it("after the success sentinel is a success, for reads and mutations", async () => {
    rds.sim.faults.noExitStatus("/file print", 1);
    expect(await client.getFile("storage-pool/nothing-here.img")).toBeUndefined();
    rds.sim.faults.noExitStatus("/file add", 1);
    await client.ensureDirectory("storage-pool/no-exit");
    expect((await client.getFile("storage-pool/no-exit"))?.type).toBe("directory");
  });

  it("without the sentinel (an error) is still an error", async () => {
    rds.sim.faults.noExitStatus("/disk set", 1);
    rds.sim.faults.failNext("/disk set", "failure: something broke");
    const e = await client.setDisk("pvc-x", { comment: "x" }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RdsError);
  });
});
