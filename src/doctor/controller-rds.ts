// What the controller needs from the appliance once logged in: a RouterOS version with file disks and
// custom NQNs, the rose-storage package, the pool and volume directory, free space, and the right to
// write. Runs over the driver's own RdsClient, so parsing and command building are the production ones.
import { randomBytes } from "node:crypto";
import { CUSTOM_NQN_MIN_VERSION, versionAtLeast } from "../controller/context.ts";
import { normalizeVolumePath, poolOf } from "../controller/volumes/path.ts";
import type { Pool, RdsClient, RdsFile, SystemInfo } from "../rds/types.ts";
import { RdsError } from "../rds/types.ts";
import { type Check, type CheckResult, fail, ok, skip, warn } from "./types.ts";

const GiB = 1024 ** 3;
/**
 * `/disk add type=file file-path=` (7.17): docs/routeros.md §1.1. `nvme-tcp-server-nqn` (7.21) is the
 * controller's CUSTOM_NQN_MIN_VERSION.
 */
export const FILE_DISK_MIN_VERSION = [7, 17] as const;
/** Below this much free space on the pool, provisioning is about to fail. */
export const LOW_FREE_BYTES = 10 * GiB;

export interface RdsCheckInput {
  /** Resolves to a logged-in client, or to the reason there is none (then every check is skipped). */
  client: () => Promise<RdsClient | string>;
  volumePath: string;
}

const once = <T>(fn: () => Promise<T>): (() => Promise<T>) => {
  let p: Promise<T> | undefined;
  return () => {
    p ??= fn();
    return p;
  };
};

const describeError = (e: unknown) => (e instanceof Error ? e.message : String(e));

const fmt = (bytes: number) => `${(bytes / GiB).toFixed(1)} GiB`;

const PERMISSION_FIX =
  "put the SSH user in a group with policy ssh,read,write,test (`/user group add name=rds-csi policy=ssh,read,write,test`, " +
  "`/user set <user> group=rds-csi`)";

export function rdsChecks(input: RdsCheckInput): Check[] {
  const volumePath = normalizeVolumePath(input.volumePath);
  const poolName = poolOf(volumePath);
  const client = once(input.client);
  /** Runs fn with the client, or skips when there is none. */
  const withClient = async (fn: (c: RdsClient) => Promise<CheckResult>): Promise<CheckResult> => {
    const c = await client();
    if (typeof c === "string") return skip(c);
    return fn(c);
  };
  const info = once(async (): Promise<SystemInfo | Error> => {
    const c = await client();
    if (typeof c === "string") return new Error(c);
    return c.systemInfo().catch((e: Error) => e);
  });
  const pool = once(async (): Promise<Pool | undefined | Error> => {
    const c = await client();
    if (typeof c === "string") return new Error(c);
    return c.getPool(poolName).catch((e: Error) => e);
  });
  const dir = once(async (): Promise<RdsFile | undefined | Error> => {
    const c = await client();
    if (typeof c === "string") return new Error(c);
    return c.getFile(volumePath).catch((e: Error) => e);
  });

  return [
    {
      id: "rds.version",
      title: "RouterOS version (7.21+ for custom NQNs)",
      run: () =>
        withClient(async () => {
          const i = await info();
          if (i instanceof Error) return fail(`cannot read /system resource: ${i.message}`, PERMISSION_FIX);
          const board = i.boardName ? ` on ${i.boardName}` : "";
          if (!versionAtLeast(i.version, FILE_DISK_MIN_VERSION))
            return fail(
              `RouterOS ${i.version}${board}: file-backed disks (/disk add type=file file-path=) need 7.17 or newer`,
              "upgrade RouterOS to 7.21 or newer (`/system package update install`)",
            );
          if (!versionAtLeast(i.version, CUSTOM_NQN_MIN_VERSION))
            return warn(
              `RouterOS ${i.version}${board}: custom NQNs (nvme-tcp-server-nqn) need 7.21; exports get their slot name as NQN, ` +
                "without the managed --nqn-prefix, and nodes only ever disconnect NQNs with that prefix",
              "upgrade RouterOS to 7.21 or newer (`/system package update install`)",
            );
          return ok(`RouterOS ${i.version}${board}`);
        }),
    },
    {
      id: "rds.rose-storage",
      title: "rose-storage package installed",
      run: () =>
        withClient(async () => {
          const i = await info();
          if (i instanceof Error) return skip(`no /system information: ${i.message}`);
          if (i.packages.includes("rose-storage")) return ok(`installed packages: ${i.packages.join(", ")}`);
          return fail(
            `rose-storage is not among the enabled packages (${i.packages.join(", ") || "none listed"}): no file disks, no NVMe/TCP export`,
            "install the rose-storage package matching the RouterOS version (upload the .npk and reboot, or `/system package enable rose-storage` if disabled)",
          );
        }),
    },
    {
      id: "rds.pool",
      title: `Storage pool "${poolName}" is a mounted disk`,
      run: () =>
        withClient(async () => {
          const p = await pool();
          if (p instanceof Error) return fail(`cannot read /disk: ${p.message}`, PERMISSION_FIX);
          if (!p)
            return fail(
              `no disk is mounted at "${poolName}" (the first component of the volume path ${volumePath})`,
              "list the mount points on the RDS with `/disk print` and set --volume-path (or the StorageClass volumePath) to <mount-point>/<directory>",
            );
          return ok(`disk ${p.slot} mounted at ${p.mountPoint} (${p.fs}, ${fmt(p.sizeBytes)})`);
        }),
    },
    {
      id: "rds.volume-path",
      title: `Volume directory ${volumePath}`,
      run: () =>
        withClient(async () => {
          const p = await pool();
          if (!p || p instanceof Error) return skip("no pool");
          const d = await dir();
          if (d instanceof Error) return fail(`cannot read /file: ${d.message}`, PERMISSION_FIX);
          if (!d)
            return warn(
              `${volumePath} does not exist yet; the controller creates it at the first CreateVolume`,
              'nothing to do for a new installation; if volumes already exist, the path has a typo (compare with `/file print where name~"^' +
                poolName +
                '/"`)',
            );
          if (d.type !== "directory")
            return fail(
              `${volumePath} exists but is a ${d.type}, not a directory`,
              "choose another --volume-path or remove the file on the RDS",
            );
          return ok(`${volumePath} is a directory`);
        }),
    },
    {
      id: "rds.free-space",
      title: `Free space on pool "${poolName}"`,
      run: () =>
        withClient(async () => {
          const p = await pool();
          if (!p || p instanceof Error) return skip("no pool");
          const pct = p.sizeBytes > 0 ? (100 * p.freeBytes) / p.sizeBytes : 0;
          const detail = `${fmt(p.freeBytes)} free of ${fmt(p.sizeBytes)} (${pct.toFixed(1)}%)`;
          const fix =
            "delete unused volumes (`kubectl get pv`), or grow the pool; rds-csi allocates volume files thick";
          if (p.freeBytes < GiB) return fail(`${detail}: new volumes will fail with RESOURCE_EXHAUSTED`, fix);
          if (p.freeBytes < LOW_FREE_BYTES || pct < 10) return warn(`${detail}: running low`, fix);
          return ok(detail);
        }),
    },
    {
      id: "rds.write-permission",
      title: "The SSH user may create and remove directories and file disks",
      timeoutMs: 120_000,
      run: () =>
        withClient(async (c) => {
          const p = await pool();
          if (!p || p instanceof Error) return skip("no pool");
          const d = await dir();
          const base = d && !(d instanceof Error) && d.type === "directory" ? volumePath : poolName;
          return writeProbe(c, base);
        }),
    },
  ];
}

/**
 * The harmless write: a marker directory `<base>/rds-csi-doctor-<random>`, then a 1 MiB file disk inside
 * it with NVMe export off (the same `/disk add type=file` the driver runs, so the `write` policy is proven
 * too, not just file rights, which every RouterOS group has), then both removed again.
 */
export async function writeProbe(c: RdsClient, base: string): Promise<CheckResult> {
  const tag = randomBytes(4).toString("hex");
  const slot = `rds-csi-doctor-${tag}`;
  const marker = `${base}/${slot}`;
  const file = `${marker}/${slot}.img`;
  const denied = (e: unknown) => e instanceof RdsError && e.kind === "permission";
  const undo: Array<[string, () => Promise<void>]> = [];
  let result: CheckResult;
  try {
    await c.ensureDirectory(marker);
    undo.unshift([`directory ${marker}`, () => c.removeFile(marker)]);
    try {
      await c.addFileDisk({
        slot,
        filePath: file,
        fileSizeBytes: 1024 * 1024,
        comment: "rds-csi doctor write test: safe to remove",
        nvmeExport: false,
        nvmePort: 4420,
      });
      undo.unshift([`disk ${slot}`, () => c.removeDisk(slot)], [`file ${file}`, () => c.removeFile(file)]);
      result = ok(`created and removed directory ${marker} and a 1 MiB file disk ${slot} (not exported)`);
    } catch (e) {
      // A failed add may still have left its file behind.
      undo.unshift([`file ${file}`, () => c.removeFile(file)]);
      result = fail(
        `created directory ${marker} but cannot add a file disk: ${describeError(e)}`,
        denied(e) ? PERMISSION_FIX : undefined,
      );
    }
  } catch (e) {
    result = fail(
      `cannot create directory ${marker}: ${describeError(e)}`,
      denied(e) ? PERMISSION_FIX : undefined,
    );
  }
  const leftovers: string[] = [];
  for (const [what, fn] of undo) {
    try {
      await fn();
    } catch (e) {
      leftovers.push(`${what} (${describeError(e)})`);
    }
  }
  if (leftovers.length === 0) return result;
  return fail(
    `${result.detail}; could not remove: ${leftovers.join("; ")}`,
    `remove them on the RDS by hand; ${PERMISSION_FIX}`,
  );
}
