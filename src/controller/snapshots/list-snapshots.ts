// ListSnapshots and GetSnapshot, read from the snapshot items on the appliance (snapshot-store.ts), so a
// restarted controller lists exactly what exists, with lineage, by source volume too.
import { aborted, invalidArgument, notFound, required } from "../../csi/errors.ts";
import type { GetSnapshotRequest__Output } from "../../csi/generated/csi/v1/GetSnapshotRequest.ts";
import type { GetSnapshotResponse } from "../../csi/generated/csi/v1/GetSnapshotResponse.ts";
import type { ListSnapshotsRequest__Output } from "../../csi/generated/csi/v1/ListSnapshotsRequest.ts";
import type { ListSnapshotsResponse } from "../../csi/generated/csi/v1/ListSnapshotsResponse.ts";
import type { ControllerContext } from "../context.ts";
import { isSnapshotId } from "./snapshot-id.ts";
import { allSnapshots, loadSnapshot, type StoredSnapshot, snapshotInfo } from "./snapshot-store.ts";

// The page token is the last snapshot id of the previous page: stable while snapshots come and go.
export async function listSnapshots(
  c: ControllerContext,
  req: ListSnapshotsRequest__Output,
): Promise<ListSnapshotsResponse> {
  const max = req.max_entries ?? 0;
  if (max < 0) throw invalidArgument("max_entries must not be negative");
  const token = req.starting_token ?? "";
  if (token && !isSnapshotId(token))
    throw aborted(`starting_token "${token}" is not a token this driver issued`);

  let snapshots: StoredSnapshot[];
  if (req.snapshot_id) {
    // CSI: an unknown id is an empty list, not an error.
    const one = await loadSnapshot(c, req.snapshot_id);
    snapshots = one ? [one] : [];
  } else {
    snapshots = await allSnapshots(c);
  }
  if (req.source_volume_id)
    snapshots = snapshots.filter((s) => s.record.sourceVolume === req.source_volume_id);
  if (token) snapshots = snapshots.filter((s) => s.disk.slot > token);
  const page = max > 0 ? snapshots.slice(0, max) : snapshots;
  const next = max > 0 && snapshots.length > max ? page[page.length - 1]!.disk.slot : "";
  return { entries: page.map((s) => ({ snapshot: snapshotInfo(s) })), next_token: next };
}

export async function getSnapshot(
  c: ControllerContext,
  req: GetSnapshotRequest__Output,
): Promise<GetSnapshotResponse> {
  const id = required(req.snapshot_id, "snapshot_id");
  const s = await loadSnapshot(c, id);
  if (!s) throw notFound(`snapshot ${id} does not exist`);
  return { snapshot: snapshotInfo(s) };
}
