// Shared state of the controller service: its dependencies, the per-volume lock, and what is read once
// per controller (RouterOS version, directories known to exist). Volume records: volume-store.ts.
import { aborted } from "../csi/errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { FileDisk, RdsClient } from "../rds/types.ts";
import { KeyedLock } from "../util/keyed-lock.ts";
import type { NodeRegistry } from "./node-registry.ts";
import { instanceTag, type VolumeRecord } from "./volume-record.ts";

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
  /** Directories known to exist, or being made: concurrent creates share one check (and its exec). */
  readonly #directories = new Map<string, Promise<void>>();
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

  ensureDirectory(path: string): Promise<void> {
    let made = this.#directories.get(path);
    if (!made) {
      made = this.rds.ensureDirectory(path);
      this.#directories.set(path, made);
      made.catch(() => this.#directories.delete(path)); // a failure is not remembered: ask again
    }
    return made;
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
