// setDisk with ifComment: the record as read is part of the `/disk set [find ...]` selector, so a write
// based on a stale read changes nothing at all (not even the size in the same command) and says so.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RdsClient, RdsError } from "../../src/rds/types.ts";
import { type EmbeddedRds, startEmbeddedRds } from "../../src/sim/embedded.ts";
import { simClient } from "../helpers/sim-client.ts";

const GiB = 2 ** 30;
let rds: EmbeddedRds;
let client: RdsClient;

beforeAll(async () => {
  rds = await startEmbeddedRds({});
  client = simClient(rds);
  await client.ensureDirectory("storage-pool/k8s");
});

afterAll(async () => {
  await client?.close();
  await rds?.close();
});

describe("compare-and-set disk writes", () => {
  it("applies when the record is unchanged and refuses, changing nothing, when it is not", async () => {
    const slot = "pvc-cas-1";
    await client.addFileDisk({
      slot,
      filePath: `storage-pool/k8s/${slot}.img`,
      fileSizeBytes: GiB,
      comment: "rds-csi:2:first",
      nvmeExport: true,
      nvmePort: 4420,
    });
    const ok = await client.setDisk(slot, { comment: "rds-csi:2:second", ifComment: "rds-csi:2:first" });
    expect(ok.comment).toBe("rds-csi:2:second");

    const stale = await client
      .setDisk(slot, {
        comment: "rds-csi:2:third",
        fileSizeBytes: 2 * GiB,
        reexport: true,
        ifComment: "rds-csi:2:first",
      })
      .catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(RdsError);
    expect((stale as RdsError).kind).toBe("conflict");
    expect(await client.getDisk(slot)).toMatchObject({ comment: "rds-csi:2:second", sizeBytes: GiB });
    const sets = rds.sim.commandLog.filter((e) => e.command.startsWith("/disk set")).at(-1)?.command;
    expect(sets).toContain('[find where slot="pvc-cas-1" and comment="rds-csi:2:first"]');

    // A disk change without a new record (allowed hosts follow the record) is conditional too.
    const hosts = await client
      .setDisk(slot, { allowedHosts: ["nqn.2014-08.org.nvmexpress:uuid:x"], ifComment: "rds-csi:2:first" })
      .catch((e: unknown) => e);
    expect((hosts as RdsError).kind).toBe("conflict");
  });
});
