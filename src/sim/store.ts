// State of the simulated appliance: pools, file disks and the real files behind them.
//
// - A pool `storage-pool` is the directory `<dataDir>/storage-pool`; a RouterOS file name
//   `storage-pool/k8s/x.img` is the real file `<dataDir>/storage-pool/k8s/x.img` (sparse, so the node side
//   can attach it as a loop device).
// - `/file` is read from the real directory tree, so it always matches the files on disk.
// - Space is accounted thick (§1.2): a pool's free space is its size minus the apparent size of every file
//   on it, so removing a file gives its space back and a sparse file still counts in full.
// - Disks, ids and pool ids persist in `<dataDir>/.sim/state.json` (written atomically after each change),
//   so a restarted simulator still has its disks, like a rebooted appliance.
import type { Dirent, Stats } from "node:fs";
import {
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  truncate,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { type FileDiskState, type FileView, fileTypeOf } from "./records.ts";
import type { SimPoolSpec } from "./types.ts";

export interface PoolState {
  id: string;
  name: string;
  sizeBytes: number;
  fs: string;
  comment?: string;
}

interface PersistedState {
  version: 1;
  nextId: number;
  poolIds: Record<string, string>;
  fileIds: Record<string, string>;
  disks: FileDiskState[];
}

/**
 * Pool usage is cached: every `/disk print` needs it and walking a pool with thousands of volume files per
 * command would dominate benchmarks. The simulator's own changes update the cached numbers exactly; changes
 * made behind its back (files deleted on the host) show up after a rescan, at most this long later.
 */
const USAGE_TTL_MS = 500;

/** Directory (under dataDir) with the simulator's own files; never part of `/file`. */
export const SIM_DIR = ".sim";
const POOL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export class SimStore {
  readonly dataDir: string;
  readonly pools: PoolState[];
  disks: FileDiskState[];
  private nextIdValue: number;
  private poolIds: Record<string, string>;
  private fileIds: Record<string, string>;
  private readonly usageCache = new Map<string, { at: number; usedBytes: number; entries: number }>();

  private constructor(dataDir: string, state: PersistedState, pools: readonly SimPoolSpec[]) {
    this.dataDir = dataDir;
    this.nextIdValue = state.nextId;
    this.poolIds = state.poolIds;
    this.fileIds = state.fileIds;
    this.disks = state.disks;
    this.pools = pools.map((spec) => {
      let id = this.poolIds[spec.name];
      if (!id) {
        id = this.allocateId();
        this.poolIds[spec.name] = id;
      }
      return { id, name: spec.name, sizeBytes: spec.sizeBytes, fs: spec.fs ?? "xfs" };
    });
  }

  static async open(dataDir: string, pools: readonly SimPoolSpec[]): Promise<SimStore> {
    for (const pool of pools) {
      if (!POOL_NAME.test(pool.name) || pool.name === SIM_DIR)
        throw new Error(`invalid pool name ${pool.name}`);
      if (!Number.isSafeInteger(pool.sizeBytes) || pool.sizeBytes <= 0) {
        throw new Error(`invalid size for pool ${pool.name}`);
      }
    }
    await mkdir(dataDir, { recursive: true });
    await mkdir(join(dataDir, SIM_DIR), { recursive: true, mode: 0o700 });
    let state: PersistedState = { version: 1, nextId: 1, poolIds: {}, fileIds: {}, disks: [] };
    try {
      state = JSON.parse(await readFile(join(dataDir, SIM_DIR, "state.json"), "utf8")) as PersistedState;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    const store = new SimStore(dataDir, state, pools);
    for (const pool of store.pools) await mkdir(join(dataDir, pool.name), { recursive: true });
    await store.save();
    return store;
  }

  /** A fresh internal id, `*1A` style. */
  allocateId(): string {
    const id = `*${this.nextIdValue.toString(16).toUpperCase()}`;
    this.nextIdValue++;
    return id;
  }

  async save(): Promise<void> {
    const state: PersistedState = {
      version: 1,
      nextId: this.nextIdValue,
      poolIds: this.poolIds,
      fileIds: this.fileIds,
      disks: this.disks,
    };
    const file = join(this.dataDir, SIM_DIR, "state.json");
    await writeFile(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
  }

  /**
   * Canonical RouterOS file name: no leading slash, no empty, `.` or `..` components, no backslash or
   * control characters. undefined when invalid.
   */
  normalizeName(name: string): string | undefined {
    const trimmed = name.startsWith("/") ? name.slice(1) : name;
    if (trimmed === "" || /[\\\x00-\x1f\x7f]/.test(trimmed)) return undefined;
    const parts = trimmed.split("/");
    if (parts.some((x) => x === "" || x === "." || x === "..")) return undefined;
    if (parts[0] === SIM_DIR) return undefined;
    return parts.join("/");
  }

  /** The pool holding a (normalized) file name: its first component is the pool's mount point. */
  poolOf(name: string): PoolState | undefined {
    const first = name.split("/")[0];
    return this.pools.find((p) => p.name === first);
  }

  /** Absolute local path of a normalized file name. */
  localPath(name: string): string {
    return join(this.dataDir, ...name.split("/"));
  }

  async statName(name: string): Promise<Stats | undefined> {
    try {
      return await stat(this.localPath(name));
    } catch (err) {
      if (
        (err as NodeJS.ErrnoException).code === "ENOENT" ||
        (err as NodeJS.ErrnoException).code === "ENOTDIR"
      ) {
        return undefined;
      }
      throw err;
    }
  }

  /** Creates a sparse file of `size` bytes; fails if it exists. */
  async createSparseFile(name: string, size: number): Promise<void> {
    const fh = await open(this.localPath(name), "wx", 0o644);
    try {
      await fh.truncate(size);
    } finally {
      await fh.close();
    }
    this.adjustUsage(name, size, 1);
  }

  async resizeFile(name: string, size: number): Promise<void> {
    const before = (await this.statName(name))?.size ?? 0;
    await truncate(this.localPath(name), size);
    this.adjustUsage(name, size - before, 0);
  }

  async writeFileContents(name: string, contents: string): Promise<void> {
    await writeFile(this.localPath(name), contents, { flag: "wx" });
    this.adjustUsage(name, Buffer.byteLength(contents), 1);
  }

  /**
   * A file in the root of `/file` (the appliance's own flash, outside every pool: exported keys), replaced
   * when it exists. Root files count against no pool.
   */
  async writeRootFile(name: string, contents: string, mode: number): Promise<void> {
    if (name.includes("/") || this.normalizeName(name) !== name || this.poolOf(name))
      throw new Error(`not a root file name: ${name}`);
    await rm(this.localPath(name), { force: true });
    await writeFile(this.localPath(name), contents, { flag: "wx", mode });
  }

  /** Text of a small regular file (`/file get <file> contents`); undefined when it is bigger than `limit`. */
  async readSmallFile(name: string, limit: number): Promise<string | undefined> {
    const st = await this.statName(name);
    if (!st?.isFile() || st.size > limit) return undefined;
    return readFile(this.localPath(name), "utf8");
  }

  async removeFile(name: string): Promise<void> {
    const before = (await this.statName(name))?.size ?? 0;
    await rm(this.localPath(name));
    delete this.fileIds[name];
    this.adjustUsage(name, -before, -1);
  }

  async makeDirectory(name: string): Promise<void> {
    await mkdir(this.localPath(name));
    this.adjustUsage(name, 0, 1);
  }

  async removeDirectory(name: string): Promise<void> {
    await rmdir(this.localPath(name));
    delete this.fileIds[name];
    this.adjustUsage(name, 0, -1);
  }

  /** Keeps a cached pool usage exact after the simulator's own changes (no rescan of the pool needed). */
  private adjustUsage(name: string, bytes: number, entries: number): void {
    const pool = this.poolOf(name);
    const cached = pool && this.usageCache.get(pool.name);
    if (!cached) return;
    cached.usedBytes += bytes;
    cached.entries += entries;
  }

  /** Bytes used on a pool (apparent size of all files: thick accounting) and the number of entries. */
  async poolUsage(pool: PoolState): Promise<{ usedBytes: number; entries: number }> {
    const cached = this.usageCache.get(pool.name);
    if (cached && Date.now() - cached.at < USAGE_TTL_MS) return { ...cached };
    let usedBytes = 0;
    let entries = 0;
    await this.walk(pool.name, async (_name, isDir, size) => {
      entries++;
      if (!isDir) usedBytes += size;
    });
    this.usageCache.set(pool.name, { at: Date.now(), usedBytes, entries });
    return { usedBytes, entries };
  }

  /**
   * Every `/file` entry: each pool's mount point (`type=disk`), then directories and files below it, sorted
   * by name. Ids are assigned on first sight and kept while the file exists.
   */
  async listFiles(): Promise<FileView[]> {
    const out: FileView[] = [];
    const seen = new Set<string>();
    let changed = false;
    const idFor = (name: string): string => {
      seen.add(name);
      let fid = this.fileIds[name];
      if (!fid) {
        fid = this.allocateId();
        this.fileIds[name] = fid;
        changed = true;
      }
      return fid;
    };
    // Regular files in the root (exported keys); hidden ones are the simulator's and its clients' own.
    for (const e of await readdir(this.dataDir, { withFileTypes: true })) {
      if (!e.isFile() || e.name.startsWith(".") || this.poolOf(e.name)) continue;
      const st = await this.statName(e.name);
      if (st)
        out.push({
          id: idFor(e.name),
          name: e.name,
          type: fileTypeOf(e.name),
          size: st.size,
          lastModified: st.mtime,
        });
    }
    for (const pool of this.pools) {
      const root = await this.statName(pool.name);
      if (!root) continue;
      out.push({ id: idFor(pool.name), name: pool.name, type: "disk", lastModified: root.mtime });
      await this.walk(pool.name, async (name, isDir, size, mtime) => {
        out.push(
          isDir
            ? { id: idFor(name), name, type: "directory", lastModified: mtime }
            : { id: idFor(name), name, type: fileTypeOf(name), size, lastModified: mtime },
        );
      });
    }
    for (const name of Object.keys(this.fileIds)) {
      if (!seen.has(name)) {
        delete this.fileIds[name];
        changed = true;
      }
    }
    if (changed) await this.save();
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private async walk(
    dir: string,
    visit: (name: string, isDir: boolean, size: number, mtime: Date) => Promise<void>,
  ): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(this.localPath(dir), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    for (const e of entries) {
      if (!e.isDirectory() && !e.isFile()) continue; // symlinks, sockets: not RouterOS files
      const name = `${dir}/${e.name}`;
      const st = await this.statName(name);
      if (!st) continue;
      await visit(name, e.isDirectory(), st.size, st.mtime);
      if (e.isDirectory()) await this.walk(name, visit);
    }
  }
}
