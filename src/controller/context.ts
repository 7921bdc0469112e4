// Shared state of the controller service: its dependencies, the per-volume lock, and the helpers
// every RPC uses to read and write volume records on the appliance.
import { aborted, alreadyExists, failedPrecondition } from "../csi/errors.ts";
import { isVolumeId } from "../csi/volume-id.ts";
import type { Logger } from "../observability/logger.ts";
import type { FileDisk, RdsClient } from "../rds/types.ts";
import { KeyedLock } from "../util/keyed-lock.ts";
import type { NodeRegistry } from "./node-registry.ts";
import { decodeRecord, instanceTag, type VolumeRecord } from "./volume-record.ts";

export interface ControllerOptions {
  rds: RdsClient;
  log: Logger;
  nodes: NodeRegistry;
  driverName: string;
  /** Default `<pool>/<dir>` for volume files (no leading slash). */
  volumePath: string;
  nqnPrefix: string;
  /** Default NVMe/TCP target address and port handed to nodes. */
  nvmeAddress: string;
  nvmePort: number;
  /** Attach limit per node (every node alike); 0 = none. ControllerPublish beyond it → RESOURCE_EXHAUSTED. */
  maxVolumesPerNode?: number;
  /**
   * Which driver installation this is (`--instance-id`), for two clusters sharing one RDS: it goes into
   * the slot of every hashed volume name and into each record, and a volume recorded by another
   * instance is never adopted. Default: the driver name and the default volume path.
   */
  instanceId?: string;
  /** The appliance's topology segment (src/csi/topology.ts): volumes are accessible from it. */
  topology?: Record<string, string>;
  /** How long a file whose command timed out is left alone, and how long its size is watched (settle.ts). */
  settle?: { quietMs?: number; probeMs?: number };
}

export interface Volume {
  disk: FileDisk;
  record: VolumeRecord;
}

/** Custom NQNs (`nvme-tcp-server-nqn`) exist from RouterOS 7.21; before that the slot is the NQN. */
export const CUSTOM_NQN_MIN_VERSION = [7, 21] as const;

export class ControllerContext {
  readonly opts: ControllerOptions;
  readonly lock = new KeyedLock();
  /** The instance identity (ControllerOptions.instanceId) and its digest as records store it. */
  readonly identity: string;
  readonly instance: string;
  /** Files a mutation with an unknown outcome may still be writing → when it started (settle.ts). */
  readonly unsettled = new Map<string, number>();
  readonly #directories = new Set<string>();
  #version?: Promise<string>;

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    this.identity = opts.instanceId || `${opts.driverName}:${opts.volumePath}`;
    this.instance = instanceTag(this.identity);
  }

  get rds(): RdsClient {
    return this.opts.rds;
  }

  get log(): Logger {
    return this.opts.log;
  }

  /**
   * The volume with this id, or undefined when there is none, the disk is not one this driver made, or
   * the id is not of the form this driver issues (then nothing is asked of the appliance).
   */
  async loadVolume(volumeId: string): Promise<Volume | undefined> {
    if (!isVolumeId(volumeId)) return undefined;
    const disk = await this.rds.getDisk(volumeId);
    if (!disk) return undefined;
    const record = decodeRecord(disk.comment);
    if (!record) return undefined;
    // Another cluster's volume on a shared RDS: never publish, grow, copy or delete it from here.
    if (record.instance && record.instance !== this.instance)
      throw failedPrecondition(
        `volume ${volumeId} belongs to another rds-csi instance sharing this RDS (not --instance-id ${this.identity}); leaving it alone`,
      );
    return { disk, record };
  }

  async ensureDirectory(path: string): Promise<void> {
    if (this.#directories.has(path)) return;
    await this.rds.ensureDirectory(path);
    this.#directories.add(path);
  }

  /** The appliance's RouterOS version, read once per controller (a failure is not remembered). */
  routerOsVersion(): Promise<string> {
    this.#version ??= this.rds.systemInfo().then(
      (info) => info.version,
      (err) => {
        this.#version = undefined; // ask again next time
        throw err;
      },
    );
    return this.#version;
  }

  async supportsCustomNqn(): Promise<boolean> {
    return versionAtLeast(await this.routerOsVersion(), CUSTOM_NQN_MIN_VERSION);
  }

  async nqnFor(slot: string): Promise<string | undefined> {
    return (await this.supportsCustomNqn()) ? `${this.opts.nqnPrefix}:${slot}` : undefined;
  }

  /** Runs fn holding the keys; a concurrent call on any of them gets ABORTED (the CO retries). */
  async exclusive<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    const r = await this.lock.tryWith(keys, fn);
    if (!r.ok) throw aborted(`an operation on ${r.busy} is already in progress; retry later`);
    return r.value;
  }
}

/**
 * Refuses to adopt a volume that another driver instance recorded (two clusters sharing one RDS whose
 * names map to the same slot). Records older than instance tags carry none and are accepted.
 */
export function checkOwner(c: ControllerContext, v: Volume, slot: string): void {
  if (v.record.instance && v.record.instance !== c.instance)
    throw alreadyExists(
      `disk slot ${slot} holds a volume of another rds-csi instance (another cluster sharing this RDS, or a different --instance-id); refusing to adopt it`,
    );
}

export function versionAtLeast(version: string, min: readonly number[]): boolean {
  const parts = version.match(/\d+/g)?.map(Number) ?? [];
  for (let i = 0; i < min.length; i++) {
    const a = parts[i] ?? 0;
    const b = min[i]!;
    if (a !== b) return a > b;
  }
  return true;
}
