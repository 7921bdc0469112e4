// The controller's view of an RDS appliance. Everything the driver needs to remember about a volume lives
// on the appliance itself (slot, file, export, comment), so a restarted controller needs no local state.
// Implemented over SSH by ./client.ts; the simulator (src/sim) speaks the same CLI.

/** A `/disk` item of `type=file`. */
export interface FileDisk {
  /** RouterOS internal id, e.g. `*1A`. */
  id: string;
  slot: string;
  /** Backing file as `/file` names it: no leading slash, e.g. `storage-pool/k8s/pvc-1.img`. */
  filePath: string;
  /** Exact size in bytes (from `size=`, never from the humanized `file-size=`). */
  sizeBytes: number;
  nvmeExport: boolean;
  nvmePort?: number;
  nqn?: string;
  /** `nvme-tcp-server-allow-host-name`, split on commas; empty = any host. */
  allowedHosts: string[];
  /** Free text kept by RouterOS; the driver stores its volume record here (see controller/volume-record.ts). */
  comment: string;
  disabled: boolean;
}

/** A formatted, mounted disk (RAID or partition) that holds volume files. */
export interface Pool {
  slot: string;
  mountPoint: string;
  fs: string;
  /** `fs-label`: the file system label, which `/disk btrfs` commands take as `fs=`. */
  fsLabel?: string;
  sizeBytes: number;
  freeBytes: number;
}

export interface RdsFile {
  /** No leading slash. */
  name: string;
  /** `directory`, `disk`, `file`, `.img file`, ... */
  type: string;
  sizeBytes?: number;
}

export interface AddFileDiskSpec {
  slot: string;
  /** No leading slash: `<pool mount point>/<dir>/<slot>.img`. */
  filePath: string;
  /** Exact bytes. Omitted = attach an existing file. */
  fileSizeBytes?: number;
  comment: string;
  nvmeExport: boolean;
  nvmePort: number;
  /** Custom NQN (RouterOS 7.21+); omitted = the slot name is the NQN. */
  nqn?: string;
  allowedHosts?: string[];
}

export interface DiskChanges {
  fileSizeBytes?: number;
  comment?: string;
  nvmeExport?: boolean;
  allowedHosts?: string[];
  /** `nvme-tcp-server-port` / `-nqn`: for a disk added unexported and exported later (RouterOS 7.21+ NQN). */
  nvmePort?: number;
  nqn?: string;
  /** Turn the export off and on again in the same command line, after the other changes: initiators that
   * are still connected are dropped, and only hosts allowed now can connect again (nvmet checks the
   * allowed hosts at connect time only). */
  reexport?: boolean;
  /**
   * Compare-and-set: change the disk only while its comment (the driver's record) is still exactly this,
   * as it was read. The condition is part of the one `set` command's `[find ...]`, so the check and the
   * write are atomic on the appliance; a miss changes nothing and throws RdsError("conflict").
   */
  ifComment?: string;
}

/** `/disk btrfs subvolume add` (RouterOS 7.18+, docs/routeros.md §5). */
export interface SubvolumeSpec {
  /** btrfs file system label (the pool's `fs-label`). */
  fsLabel: string;
  /** Mount point of that file system: the subvolume appears in `/file` as `<mountPoint>/<name>`. */
  mountPoint: string;
  /** Path below the file system's top level, e.g. `k8s/pvc-1`. */
  name: string;
  /** Make a snapshot of this subvolume (same kind of path) instead of an empty subvolume. */
  parent?: string;
  readOnly?: boolean;
}

export interface SystemInfo {
  version: string;
  boardName?: string;
  /** Installed packages, e.g. `routeros`, `rose-storage`. */
  packages: string[];
}

export type RdsErrorKind =
  | "not-found" // no such item
  | "no-space" // pool full
  | "exists" // slot or file already there
  | "permission" // not enough permissions
  | "invalid" // RouterOS rejected a value or the syntax (a driver bug: inputs are validated before)
  | "unavailable" // SSH down, reconnecting, host key refused, auth failed
  | "timeout" // command exceeded its timeout (its channel was closed)
  | "conflict" // a compare-and-set found the item changed since it was read
  | "failure"; // any other `failure: ...` or unrecognised output

export class RdsError extends Error {
  readonly kind: RdsErrorKind;
  readonly command?: string;
  constructor(kind: RdsErrorKind, message: string, opts: { command?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "RdsError";
    this.kind = kind;
    this.command = opts.command;
  }
}

/** Reads made together in one exec (RdsClient.lookup): a disk by slot, a file by name, a pool. */
export interface Lookup {
  disk?: string;
  file?: string;
  pool?: string;
}

/** What a Lookup found; a key is absent when that item does not exist (or was not asked for). */
export interface LookupResult {
  disk?: FileDisk;
  file?: RdsFile;
  pool?: Pool;
}

/** One thing to remove (RdsClient.removeAll); a missing one is not an error. */
export type Removal = { disk: string } | { file: string } | { subvolume: string };

export interface RdsClient {
  /** undefined when no disk has that slot. */
  getDisk(slot: string): Promise<FileDisk | undefined>;
  /** Several independent reads in one exec: one round trip instead of one per read. */
  lookup(reads: Lookup): Promise<LookupResult>;
  /** File disks whose slot starts with the prefix. */
  listDisks(slotPrefix: string): Promise<FileDisk[]>;
  /** `/disk add type=file ...`, then reads the disk back in the same exec and checks it (verify after
   * write): returns what the appliance now holds. Throws RdsError("exists") if the slot is taken,
   * ("no-space") when full. */
  addFileDisk(spec: AddFileDiskSpec): Promise<FileDisk>;
  /** `/disk set`, verified by reading back in the same exec; throws RdsError("not-found") if the slot does
   * not exist, ("conflict") when a compare-and-set missed. */
  setDisk(slot: string, changes: DiskChanges): Promise<FileDisk>;
  /** Disables the export and removes the `/disk` item in one command line; a missing slot is not an
   * error. The backing file stays (RouterOS behaviour): remove it with removeFile. */
  removeDisk(slot: string): Promise<void>;
  /**
   * Removes the items in order in one exec (a disk with its export switched off first, as removeDisk);
   * the line stops at the first error, so a later removal never runs when an earlier one failed.
   */
  removeAll(removals: readonly Removal[]): Promise<void>;
  getFile(name: string): Promise<RdsFile | undefined>;
  /** Files whose name starts with the prefix (no leading slash). */
  listFiles(prefix: string): Promise<RdsFile[]>;
  /** `/file remove`; a missing file is not an error. */
  removeFile(name: string): Promise<void>;
  /** `/file add type=directory`; an existing directory is not an error. */
  ensureDirectory(name: string): Promise<void>;
  /**
   * `/file copy <source> name=<destination>` (RouterOS 7.23+): a reflinked or full copy, made by the
   * appliance; then checks that the destination exists. Full copies of large files take long: pass a
   * timeout that fits the size. Throws ("exists") when the destination exists, ("no-space") when full.
   */
  copyFile(source: string, destination: string, opts?: { timeoutMs?: number }): Promise<void>;
  /** `/file` entries whose name contains the fragment anywhere (one `/file print`, all disks). */
  findFiles(fragment: string): Promise<RdsFile[]>;
  /** `/disk btrfs subvolume add` (a snapshot when `parent` is given), verified in `/file`. */
  addSubvolume(spec: SubvolumeSpec): Promise<void>;
  /** `/disk btrfs subvolume remove`, with its contents; a missing subvolume is not an error. */
  removeSubvolume(name: string): Promise<void>;
  /** The pool disk whose mount point is given (first component of the volume path). */
  getPool(mountPoint: string): Promise<Pool | undefined>;
  systemInfo(): Promise<SystemInfo>;
  /** Cheap round trip proving SSH works and the CLI answers. */
  ping(): Promise<void>;
  readonly connected: boolean;
  close(): Promise<void>;
}

/** How to reach one RDS over SSH. */
export interface RdsConnectionConfig {
  host: string;
  port: number;
  user: string;
  /** OpenSSH or PEM private key (ed25519 or RSA). */
  privateKey: string | Buffer;
  passphrase?: string;
  /** Pinned host key: an OpenSSH public key line (`ssh-ed25519 AAAA...`) or a `SHA256:...` fingerprint. */
  hostKey?: string;
  /** Explicit opt-out of pinning; loud in the logs. */
  insecureSkipHostKeyCheck?: boolean;
  /** Max concurrent exec channels on the one connection. */
  maxChannels?: number;
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  /** Unanswered keepalives before the connection is considered dead (ssh2 keepaliveCountMax). */
  keepaliveCountMax?: number;
}
