// What the driver must remember about a volume, stored on the appliance in the disk's `comment`, so a
// restarted controller (or a second replica) needs no local state. RouterOS caps a comment at 1,024
// characters, so the record holds only what later RPCs need, bounded (the worst case is computed in
// test/controller/volume-record.test.ts):
//
//   rds-csi:2 b=<required bytes> h=<params digest> [n=<name> | N=<name digest>] [i=<instance>]
//             [t=<created, unix s>] [g=<generation>] [s=v:<id> | s=s:<id>] [C= R= K= Q=<tuning>]
//             [a=<generation>:<m|s><w|r>:<node>]...
//
// Plain `key=value` words in the comment's alphabet; a value outside it (a node id with other
// characters) is written `@<base64url>`. Parameters: a digest of all of them answers "is this retry the
// same request", and only the connection tuning that ControllerPublish needs is kept. The NVMe address
// and mkfs options of the StorageClass travel in volume_context instead (volume-context.ts), as does the
// name when it is neither the slot nor short. Version 1 records (base64url JSON) are still read.
import { createHash } from "node:crypto";

export interface Attachment {
  node: string;
  /** Single-node modes fence other nodes; multi is MULTI_NODE_MULTI_WRITER (block only, live migration). */
  mode: "single" | "multi";
  readonly: boolean;
  /** Which publish made this attachment (PublishKey.generation); 0 for attachments older than generations. */
  generation: number;
}

export interface VolumeRecord {
  /** The CSI name, when the record holds it ("" when only its digest is kept). */
  name: string;
  /** Digest of the CSI name (nameDigest()), when the name itself is not kept. */
  nameDigest?: string;
  /** Requested bytes (CreateVolume or the last expansion), before alignment. */
  requiredBytes: number;
  /** Digest of all validated StorageClass parameters (paramsDigest()); absent in version 1 records. */
  paramsDigest?: string;
  /** The parameters later RPCs read (v2: connection tuning only; v1: all of them). */
  params: Record<string, string>;
  /** Digest of the controller instance that made the volume (instanceTag()); absent in older records. */
  instance?: string;
  /** Content source: a snapshot or a volume. */
  source?: { snapshot?: string; volume?: string };
  attachments: Attachment[];
  /** The last attachment generation handed out for this volume (0: none yet); only ever grows. */
  generation: number;
  createdAt: string;
}

const PREFIX_V1 = "rds-csi:1:";
const PREFIX_V2 = "rds-csi:2";
/** CSI's limit on node ids (NodeGetInfoResponse); ControllerPublish refuses longer ones. */
export const NODE_ID_MAX_BYTES = 256;
/** Names this short (in the comment's alphabet) are kept as they are; longer ones by digest. */
export const NAME_KEPT_MAX = 64;
/** Parameters ControllerPublish reads from the record; the rest are only compared by digest. */
export const KEPT_PARAMS = {
  ctrlLossTmo: "C",
  reconnectDelay: "R",
  keepAliveTmo: "K",
  nrIoQueues: "Q",
} as const;
/**
 * Written only for records converted from version 1, whose PVs' volume_context lacks the NVMe address:
 * new records leave it to volume_context (and stay within the size budget without it).
 */
const LEGACY_PARAMS = { nvmeAddress: "A" } as const;
const WRITTEN_PARAMS = { ...KEPT_PARAMS, ...LEGACY_PARAMS };

const PLAIN = /^[A-Za-z0-9._:/+@-]+$/;
const digest = (s: string, chars: number) =>
  createHash("sha256").update(s, "utf8").digest("base64url").slice(0, chars);

export const nameDigest = (name: string) => digest(`name\n${name}`, 22);
export const instanceTag = (identity: string) => digest(`instance\n${identity}`, 12);
export function paramsDigest(params: Record<string, string>): string {
  const canonical = Object.entries(params)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");
  return digest(`params\n${canonical}`, 22);
}

/** A new volume's record: what is kept of the name and parameters, and their digests. */
export function newRecord(r: {
  name: string;
  slot: string;
  requiredBytes: number;
  params: Record<string, string>;
  instance?: string;
  source?: { snapshot?: string; volume?: string };
}): VolumeRecord {
  const keepName = r.name === r.slot || (r.name.length <= NAME_KEPT_MAX && PLAIN.test(r.name));
  const params: Record<string, string> = {};
  for (const k of Object.keys(KEPT_PARAMS)) if (r.params[k] !== undefined) params[k] = r.params[k];
  return {
    name: keepName ? r.name : "",
    ...(keepName ? {} : { nameDigest: nameDigest(r.name) }),
    requiredBytes: r.requiredBytes,
    paramsDigest: paramsDigest(r.params),
    params,
    ...(r.instance ? { instance: r.instance } : {}),
    ...(r.source ? { source: r.source } : {}),
    attachments: [],
    generation: 0,
    createdAt: new Date().toISOString(),
  };
}

/** Whether the record was made for this CSI name. */
export function isNamed(r: VolumeRecord, name: string): boolean {
  return r.name ? r.name === name : r.nameDigest === nameDigest(name);
}

/** Whether the record was made with these (validated, stored-form) parameters. */
export function hasParams(r: VolumeRecord, params: Record<string, string>): boolean {
  if (r.paramsDigest) return r.paramsDigest === paramsDigest(params);
  const sorted = (o: Record<string, string>) =>
    JSON.stringify(Object.entries(o).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  return sorted(r.params) === sorted(params); // version 1: every parameter was stored
}

// `@` marks an encoded value (it is in the alphabet; a plain value starting with it is encoded too).
const enc = (s: string) =>
  PLAIN.test(s) && !s.startsWith("@") ? s : `@${Buffer.from(s, "utf8").toString("base64url")}`;
const dec = (s: string) => (s.startsWith("@") ? Buffer.from(s.slice(1), "base64url").toString("utf8") : s);

export function encodeRecord(r: VolumeRecord): string {
  const w: string[] = [PREFIX_V2, `b=${r.requiredBytes}`];
  if (r.paramsDigest) w.push(`h=${r.paramsDigest}`);
  if (r.name) w.push(`n=${enc(r.name)}`);
  else if (r.nameDigest) w.push(`N=${r.nameDigest}`);
  if (r.instance) w.push(`i=${r.instance}`);
  const t = Date.parse(r.createdAt);
  if (Number.isFinite(t)) w.push(`t=${Math.floor(t / 1000)}`);
  if (r.generation) w.push(`g=${r.generation}`);
  if (r.source?.volume) w.push(`s=v:${enc(r.source.volume)}`);
  else if (r.source?.snapshot) w.push(`s=s:${enc(r.source.snapshot)}`);
  for (const [k, key] of Object.entries(WRITTEN_PARAMS))
    if (r.params[k] !== undefined) w.push(`${key}=${enc(r.params[k])}`);
  for (const a of r.attachments)
    w.push(`a=${a.generation}:${a.mode === "multi" ? "m" : "s"}${a.readonly ? "r" : "w"}:${enc(a.node)}`);
  return w.join(" ");
}

/** undefined when the comment is not one of ours (a disk someone else made, or a damaged comment). */
export function decodeRecord(comment: string): VolumeRecord | undefined {
  if (comment.startsWith(PREFIX_V1)) return decodeV1(comment);
  if (!comment.startsWith(`${PREFIX_V2} `)) return undefined;
  const r: VolumeRecord = {
    name: "",
    requiredBytes: -1,
    params: {},
    attachments: [],
    generation: 0,
    createdAt: "",
  };
  const keyOf = Object.fromEntries(Object.entries(WRITTEN_PARAMS).map(([k, v]) => [v, k]));
  try {
    for (const word of comment.slice(PREFIX_V2.length + 1).split(" ")) {
      const eq = word.indexOf("=");
      if (eq < 1) return undefined;
      const k = word.slice(0, eq);
      const v = word.slice(eq + 1);
      switch (k) {
        case "b":
          r.requiredBytes = count(v);
          break;
        case "h":
          r.paramsDigest = v;
          break;
        case "n":
          r.name = dec(v);
          break;
        case "N":
          r.nameDigest = v;
          break;
        case "i":
          r.instance = v;
          break;
        case "t":
          r.createdAt = new Date(count(v) * 1000).toISOString();
          break;
        case "g":
          r.generation = count(v);
          break;
        case "s":
          if (v.startsWith("v:")) r.source = { volume: dec(v.slice(2)) };
          else if (v.startsWith("s:")) r.source = { snapshot: dec(v.slice(2)) };
          else return undefined;
          break;
        case "a": {
          const m = /^(\d+):([ms])([wr]):(.+)$/.exec(v);
          if (!m) return undefined;
          r.attachments.push({
            node: dec(m[4]!),
            mode: m[2] === "m" ? "multi" : "single",
            readonly: m[3] === "r",
            generation: count(m[1]!),
          });
          break;
        }
        default:
          if (keyOf[k]) r.params[keyOf[k]] = dec(v);
        // Unknown keys are skipped: a newer driver may add fields an older one can ignore.
      }
    }
  } catch {
    return undefined;
  }
  if (r.requiredBytes < 0 || (!r.name && !r.nameDigest)) return undefined;
  r.generation = Math.max(r.generation, ...r.attachments.map((a) => a.generation));
  return r;
}

function count(v: string): number {
  const n = Number(v);
  if (!/^\d{1,16}$/.test(v) || !Number.isSafeInteger(n)) throw new Error(`not a count: ${v}`);
  return n;
}

function decodeV1(comment: string): VolumeRecord | undefined {
  try {
    const c = JSON.parse(Buffer.from(comment.slice(PREFIX_V1.length), "base64url").toString("utf8"));
    if (typeof c?.n !== "string" || typeof c?.b !== "number") return undefined;
    const attachments: Attachment[] = Array.isArray(c.a)
      ? c.a
          .filter((x: unknown) => Array.isArray(x) && typeof x[0] === "string")
          .map((x: [string, number, number, number?]) => ({
            node: x[0],
            mode: x[1] ? "multi" : "single",
            readonly: Boolean(x[2]),
            generation: safeCount(x[3]),
          }))
      : [];
    return {
      name: c.n,
      requiredBytes: c.b,
      params: c.p ?? {},
      source: c.s,
      attachments,
      // Never below an attachment's own: a record edited by hand must not hand a number out twice.
      generation: Math.max(safeCount(c.g), ...attachments.map((a) => a.generation)),
      createdAt: typeof c.t === "string" ? c.t : "",
    };
  } catch {
    return undefined;
  }
}

function safeCount(x: unknown): number {
  return typeof x === "number" && Number.isSafeInteger(x) && x > 0 ? x : 0;
}
