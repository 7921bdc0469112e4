// The node's two small state files (stage-state.ts, attachment-record.ts) are read back strictly: a file
// that is not exactly what the driver writes is refused (the stage state: StateFileError, so the RPC fails
// rather than act on a guess; the attachment record: undefined, so no generation is compared). These
// cases passed with the zod schemas the files had until issue 15 and with the plain checks since.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  attachmentRecordPath,
  readAttachmentRecord,
  writeAttachmentRecord,
} from "../../src/node/attachment-record.ts";
import { readStageState, STATE_FILE, StateFileError, writeStageState } from "../../src/node/stage-state.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "state-files-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const nvme = {
  kind: "nvme-tcp",
  nqn: "nqn.2026-01.com.mikrotik.rds-csi:pvc-1",
  address: "10.0.0.1",
  port: 4420,
  ctrlLossTmo: 120,
  reconnectDelay: 5,
};
const valid = {
  version: 1,
  volumeId: "pvc-1",
  accessType: "mount",
  target: nvme,
  fsType: "ext4",
  formatting: false,
  publishedTargets: ["/var/lib/kubelet/pods/x/volumes/v"],
  updatedAt: "2026-12-06T15:00:00.000Z",
};

const writeRaw = (value: unknown) =>
  writeFileSync(join(dir, STATE_FILE), typeof value === "string" ? value : JSON.stringify(value));

describe("stage state file", () => {
  it("reads back what it wrote, for both transports", async () => {
    const written = await writeStageState(dir, {
      volumeId: "pvc-1",
      accessType: "block",
      target: { kind: "loop", filePath: "storage-pool/x/pvc-1.img" },
      formatting: true,
      publishedTargets: ["/dev/a"],
    });
    expect(await readStageState(dir)).toEqual(written);
    writeRaw({ ...valid, target: { ...nvme, keepAliveTmo: 5, nrIoQueues: 2 } });
    expect((await readStageState(dir))?.target).toEqual({ ...nvme, keepAliveTmo: 5, nrIoQueues: 2 });
  });

  it("fills the fields an older file may lack, and drops keys it does not know", async () => {
    const { formatting: _f, publishedTargets: _p, fsType: _t, ...older } = valid;
    writeRaw({ ...older, extra: 1, target: { ...nvme, extra: 2 } });
    const s = await readStageState(dir);
    expect(s).toEqual({ ...older, formatting: false, publishedTargets: [], target: nvme });
  });

  it("no file, an empty or zero-filled one: no state", async () => {
    expect(await readStageState(dir)).toBeUndefined();
    writeRaw("");
    expect(await readStageState(dir)).toBeUndefined();
    writeRaw("\0\0\0\0");
    expect(await readStageState(dir)).toBeUndefined();
  });

  const bad: Array<[string, unknown]> = [
    ["not JSON", "{version: 1"],
    ["not an object", [valid]],
    ["null", null],
    ["another version", { ...valid, version: 2 }],
    ["version as text", { ...valid, version: "1" }],
    ["no volume id", { ...valid, volumeId: undefined }],
    ["an empty volume id", { ...valid, volumeId: "" }],
    ["an unknown access type", { ...valid, accessType: "file" }],
    ["no target", { ...valid, target: undefined }],
    ["an unknown transport", { ...valid, target: { ...nvme, kind: "iscsi" } }],
    ["an empty NQN", { ...valid, target: { ...nvme, nqn: "" } }],
    ["a port as text", { ...valid, target: { ...nvme, port: "4420" } }],
    ["a fractional timeout", { ...valid, target: { ...nvme, ctrlLossTmo: 1.5 } }],
    ["a missing reconnect delay", { ...valid, target: { ...nvme, reconnectDelay: undefined } }],
    ["a null keep-alive", { ...valid, target: { ...nvme, keepAliveTmo: null } }],
    ["an empty loop file path", { ...valid, target: { kind: "loop", filePath: "" } }],
    ["a loop target without file path", { ...valid, target: { kind: "loop" } }],
    ["a numeric fs type", { ...valid, fsType: 4 }],
    ["formatting as text", { ...valid, formatting: "false" }],
    ["targets not a list", { ...valid, publishedTargets: "/a" }],
    ["targets null", { ...valid, publishedTargets: null }],
    ["formatting null", { ...valid, formatting: null }],
    ["a target not text", { ...valid, publishedTargets: ["/a", 1] }],
    ["no update time", { ...valid, updatedAt: undefined }],
  ];
  for (const [what, value] of bad)
    it(`refuses a file with ${what}`, async () => {
      writeRaw(value);
      await expect(readStageState(dir)).rejects.toThrow(StateFileError);
    });
});

describe("attachment record file", () => {
  const staging = () => join(dir, "staging");

  it("reads back what it wrote", () => {
    writeAttachmentRecord(staging(), { volumeId: "pvc-1", generation: 3 });
    expect(readAttachmentRecord(staging())).toEqual({ volumeId: "pvc-1", generation: 3 });
  });

  it("drops keys it does not know", () => {
    writeAttachmentRecord(staging(), { volumeId: "pvc-1", generation: 3 });
    writeFileSync(
      attachmentRecordPath(staging()),
      JSON.stringify({ volumeId: "pvc-1", generation: 4, x: 1 }),
    );
    expect(readAttachmentRecord(staging())).toEqual({ volumeId: "pvc-1", generation: 4 });
  });

  const bad: Array<[string, unknown]> = [
    ["not JSON", "{"],
    ["not an object", [1]],
    ["null", null],
    ["an empty volume id", { volumeId: "", generation: 1 }],
    ["no volume id", { generation: 1 }],
    ["generation 0", { volumeId: "pvc-1", generation: 0 }],
    ["a negative generation", { volumeId: "pvc-1", generation: -2 }],
    ["a fractional generation", { volumeId: "pvc-1", generation: 1.5 }],
    ["a generation as text", { volumeId: "pvc-1", generation: "1" }],
  ];
  for (const [what, value] of bad)
    it(`an unreadable record (${what}) is no record`, () => {
      writeAttachmentRecord(staging(), { volumeId: "pvc-1", generation: 3 });
      writeFileSync(
        attachmentRecordPath(staging()),
        typeof value === "string" ? value : JSON.stringify(value),
      );
      expect(readAttachmentRecord(staging())).toBeUndefined();
    });
});
