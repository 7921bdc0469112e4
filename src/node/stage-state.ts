// A small state file in the staging directory, written BEFORE the device is attached (an intent record)
// and removed last on unstage, so a crash at any point leaves enough behind for the next call:
//  - NodeUnstage gets no publish context; the file says which target (NQN or disk file) to detach.
//  - an interrupted mkfs leaves a device without a recognisable filesystem but with data; `formatting`
//    marks it as our own half-made filesystem, the only case where such a device may be formatted again.
//  - block volumes record their published device nodes (SINGLE_NODE_SINGLE_WRITER checks).
// For filesystem volumes the file lies under the staging mount once mounted, hidden from everyone and
// never part of the user's filesystem. It is only read or written while the staging path is NOT a mount
// point (callers check), otherwise it would be a file inside the user's filesystem.
import { randomBytes } from "node:crypto";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import type { AttachTarget } from "./nvme/transport.ts";

export const STATE_FILE = ".rds-csi-stage.json";

/** What the state file keeps of the attach target: exactly the transport's target. */
export type StageTarget = AttachTarget;

export interface StageState {
  version: 1;
  volumeId: string;
  accessType: "block" | "mount";
  target: StageTarget;
  fsType?: string;
  /** Absent in an older file: false. */
  formatting: boolean;
  /** Absent in an older file: none. */
  publishedTargets: string[];
  updatedAt: string;
}

// Checked by hand rather than with a schema library: zod cost the node plugin about 5 MiB of resident
// memory (issue 15). Exactly the written shape is accepted; keys the driver does not write are dropped.
type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
const isText = (v: unknown, min = 0): v is string => typeof v === "string" && v.length >= min;

function bad(what: string): never {
  throw new Error(what);
}

function parseTarget(t: unknown): StageTarget {
  if (!isObject(t)) return bad("target: expected an object");
  if (t.kind === "loop") {
    if (!isText(t.filePath, 1)) return bad("target.filePath: expected a non-empty string");
    return { kind: "loop", filePath: t.filePath };
  }
  if (t.kind !== "nvme-tcp") return bad(`target.kind: expected "nvme-tcp" or "loop"`);
  if (!isText(t.nqn, 1)) return bad("target.nqn: expected a non-empty string");
  if (!isText(t.address)) return bad("target.address: expected a string");
  for (const k of ["port", "ctrlLossTmo", "reconnectDelay"] as const)
    if (!isInt(t[k])) return bad(`target.${k}: expected an integer`);
  for (const k of ["keepAliveTmo", "nrIoQueues"] as const)
    if (t[k] !== undefined && !isInt(t[k])) return bad(`target.${k}: expected an integer`);
  const out: StageTarget = {
    kind: "nvme-tcp",
    nqn: t.nqn,
    address: t.address,
    port: t.port as number,
    ctrlLossTmo: t.ctrlLossTmo as number,
    reconnectDelay: t.reconnectDelay as number,
  };
  if (t.keepAliveTmo !== undefined) out.keepAliveTmo = t.keepAliveTmo as number;
  if (t.nrIoQueues !== undefined) out.nrIoQueues = t.nrIoQueues as number;
  return out;
}

/** The state a file holds; throws naming the first field that is not as the driver writes it. */
function parseState(v: unknown): StageState {
  if (!isObject(v)) return bad("expected a JSON object");
  if (v.version !== 1) return bad("version: expected 1");
  if (!isText(v.volumeId, 1)) return bad("volumeId: expected a non-empty string");
  if (v.accessType !== "block" && v.accessType !== "mount")
    return bad(`accessType: expected "block" or "mount"`);
  const target = parseTarget(v.target);
  if (v.fsType !== undefined && !isText(v.fsType)) return bad("fsType: expected a string");
  if (v.formatting !== undefined && typeof v.formatting !== "boolean")
    return bad("formatting: expected a boolean");
  const published = v.publishedTargets === undefined ? [] : v.publishedTargets;
  if (!Array.isArray(published) || !published.every((p) => isText(p)))
    return bad("publishedTargets: expected a list of strings");
  if (!isText(v.updatedAt)) return bad("updatedAt: expected a string");
  const state: StageState = {
    version: 1,
    volumeId: v.volumeId,
    accessType: v.accessType,
    target,
    formatting: v.formatting ?? false,
    publishedTargets: [...published],
    updatedAt: v.updatedAt,
  };
  if (v.fsType !== undefined) state.fsType = v.fsType;
  return state;
}

export class StateFileError extends Error {}

// The file is small and lives on the kubelet's own disk, never on a volume: plain reads, writes and renames
// are synchronous (microseconds, where each fs/promises call is a ~60-300 µs thread-pool round trip).
// Only fsync, which can wait on a busy disk, goes through the thread pool.

/** The state in stagingPath, undefined when there is none; StateFileError when it is unreadable. */
export async function readStageState(stagingPath: string): Promise<StageState | undefined> {
  const path = join(stagingPath, STATE_FILE);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR")
      return undefined;
    throw new StateFileError(`cannot read ${path}: ${(err as Error).message}`);
  }
  // Empty or zero-filled: written without fsync (see writeStageState) just before the node crashed. Such a
  // record described attachments and mounts that the crash ended, so there is nothing left to describe.
  if (/^\0*$/.test(text)) return undefined;
  try {
    return parseState(JSON.parse(text));
  } catch (err) {
    throw new StateFileError(`${path} is not a valid rds-csi state file: ${(err as Error).message}`);
  }
}

/**
 * Atomic replace: write a temporary file and rename it over the old one, so a reader sees the old or the
 * new record, never a mix. Durable (fsync of file and directory, ~1 ms or more) only for a record with
 * `formatting: true`: that marker must be on disk before mkfs writes the first byte, because it is what
 * allows formatting a half-made filesystem again after a power loss. Every other field describes
 * attachments and mounts, which a power loss ends anyway; losing their last update is harmless.
 */
export async function writeStageState(
  stagingPath: string,
  state: Omit<StageState, "updatedAt" | "version">,
): Promise<StageState> {
  const full: StageState = { version: 1, ...state, updatedAt: new Date().toISOString() };
  const final = join(stagingPath, STATE_FILE);
  const tmp = `${final}.${randomBytes(4).toString("hex")}.tmp`;
  const text = `${JSON.stringify(full, null, 2)}\n`;
  if (!full.formatting) {
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, final);
    return full;
  }
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  renameSync(tmp, final);
  const dir = await open(stagingPath, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return full;
}

export async function removeStageState(stagingPath: string): Promise<void> {
  rmSync(join(stagingPath, STATE_FILE), { force: true });
}
