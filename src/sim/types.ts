// Public surface of the RouterOS simulator (`rds-csi sim`), used by the CLI, the demo, tests and benchmarks.
import type { ProfileName } from "./latency-profiles.ts";
import type { NvmetMode, NvmetStatus } from "./nvmet-export.ts";

export interface SimPoolSpec {
  /** Slot and mount point of the pool disk, e.g. `storage-pool`. */
  name: string;
  sizeBytes: number;
  fs?: "xfs" | "btrfs" | "ext4";
}

export interface SimulatorOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0 = pick a free port
  /** Disk files live here as `<dataDir>/<file-path>` (sparse); the host key is kept here when hostKeyPath is unset. */
  dataDir: string;
  /** OpenSSH public key lines allowed to log in (any user name; `name+opts` accepted). */
  authorizedKeys: string[];
  hostKeyPath?: string;
  pools?: SimPoolSpec[]; // default one 100 GiB xfs pool `storage-pool`
  /** Wrap width for `print detail` (default 80); 0 = no wrapping. */
  wrapWidth?: number;
  /** Where RouterOS errors go: real RouterOS prints them on stdout with exit status 0 (the default). */
  errorStream?: "stdout" | "stderr";
  errorExitCode?: number;
  /** Reported by `/system resource print`; default 7.24.1. */
  version?: string;
  /** Installed packages reported by `/system package print`; default routeros, rose-storage. */
  packages?: string[];
  /** Real NVMe/TCP exports through the kernel's nvmet (nvmet-export.ts): off (default), auto, required. */
  nvmet?: NvmetMode;
  /** Address the nvmet TCP ports listen on (default 127.0.0.1). */
  nvmetAddress?: string;
  /** Receives nvmet diagnostics (exports made, removed, failed). */
  nvmetLog?: (message: string) => void;
  /** Latency preset (latency-profiles.ts): `fast` (default, no latency) or `rds-hardware`. */
  latencyProfile?: ProfileName;
}

/**
 * Fault and latency injection. Fault patterns are matched against the whole command line, latency patterns
 * against each command's canonical text (`/disk add type=file ...`); both substring or RegExp.
 */
export interface SimFaults {
  /**
   * Each matching command a line runs costs ms (plus up to jitterMs); the most recent matching rule wins.
   * The reply waits for the sum; the commands take effect at once (and run even if the client gives up).
   */
  latency(ms: number, opts?: { match?: string | RegExp; jitterMs?: number }): void;
  /** Each exec costs ms (plus up to jitterMs) once, before its line runs, however many commands it holds. */
  execLatency(ms: number, opts?: { jitterMs?: number }): void;
  /** The base latencies clear() returns to: `fast` (none, the default) or `rds-hardware`. */
  latencyProfile(name: ProfileName): void;
  /** Matching commands never answer (the channel stays open) until clear(). */
  hang(match: string | RegExp): void;
  /** The SSH connection is dropped when a matching command arrives (before it runs, or after with `after: true`). */
  dropConnection(match: string | RegExp, opts?: { after?: boolean; times?: number }): void;
  /** Every SSH session is cut (TCP reset, no SSH disconnect) ms after its login, until clear(): an
   * appliance that drops sessions right after login (session limits, a firewall rule). */
  dropSessionsAfterLogin(ms: number): void;
  /** Matching command lines run and reply, but their channel closes without an exit status (as some
   * RouterOS builds do), `times` times. */
  noExitStatus(match: string | RegExp, times?: number): void;
  /** `/disk add` lines with a file-size take ms to allocate: the file appears at once and grows, the
   * disk item appears at the end, and the command completes even if the client gives up (until clear()). */
  slowAllocation(ms: number): void;
  /** After n more commands, every command fails with message (a `failure: ...` line). */
  failAfter(n: number, message?: string): void;
  /** Matching commands fail once with the message, then behave. */
  failNext(match: string | RegExp, message: string, times?: number): void;
  /** Pool reports no free space; `/disk add` with file-size fails with `failure: not enough space`. */
  diskFull(on: boolean): void;
  /** Removes every fault and latency rule added since start (the latency profile stays). */
  clear(): void;
}

export interface SimCommandLogEntry {
  at: number;
  user: string;
  /** The command line as received (one exec). */
  command: string;
  output: string;
  /** Canonical text of every command the line ran, in order, nested ones (`[find ...]`, `{...}`) included. */
  commands: string[];
  /** Latency charged: the exec's once, and each command's (same order as `commands`). */
  latencyMs: { exec: number; commands: number[] };
  /**
   * When the exec arrived and when its answer was sent (`performance.now()` of the simulator's process):
   * execs whose spans overlap ran side by side, one round trip for the client (test/controller/round-trips).
   */
  span: { start: number; end?: number };
}

export interface Simulator {
  readonly host: string;
  readonly port: number;
  /** OpenSSH public key line of the host key, for pinning. */
  readonly hostPublicKey: string;
  /** `SHA256:<base64>` fingerprint of the host key. */
  readonly hostKeyFingerprint: string;
  readonly commandLog: SimCommandLogEntry[];
  readonly faults: SimFaults;
  /** Absolute local path of a RouterOS file name (`storage-pool/k8s/x.img`). */
  localPath(fileName: string): string;
  /** Number of currently open SSH connections / exec channels (for tests of the client's pooling). */
  readonly stats: {
    connections: number;
    channels: number;
    maxConcurrentChannels: number;
    totalConnections: number;
  };
  /** Present while disks are really exported through nvmet. */
  readonly nvmet?: NvmetStatus;
  /** Changes the `print detail` wrap width for the following commands (0 = no wrapping). */
  setWrapWidth?(width: number): void;
  close(): Promise<void>;
}
