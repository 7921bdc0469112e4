// Shared state of the controller service: its dependencies, the per-volume lock, and the helpers
// every RPC uses to read and write volume records on the appliance.
import { aborted } from "../csi/errors.ts";
import { isVolumeId } from "../csi/volume-id.ts";
import type { Logger } from "../observability/logger.ts";
import type { FileDisk, RdsClient } from "../rds/types.ts";
import { KeyedLock } from "../util/keyed-lock.ts";
import type { NodeRegistry } from "./node-registry.ts";
import { decodeRecord, type VolumeRecord } from "./volume-record.ts";

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
  readonly #directories = new Set<string>();
  #version?: Promise<string>;

  constructor(opts: ControllerOptions) {
    this.opts = opts;
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
    return record ? { disk, record } : undefined;
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

export function versionAtLeast(version: string, min: readonly number[]): boolean {
  const parts = version.match(/\d+/g)?.map(Number) ?? [];
  for (let i = 0; i < min.length; i++) {
    const a = parts[i] ?? 0;
    const b = min[i]!;
    if (a !== b) return a > b;
  }
  return true;
}
