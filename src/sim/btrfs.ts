// btrfs subvolumes of the simulated appliance (docs/routeros.md §5, RouterOS 7.18+): a subvolume is a
// directory on a pool formatted btrfs; a snapshot (`parent=`) is a new subvolume holding a copy of the
// parent's files (reflink where the host allows, else a full copy: see copy.ts), made while no other
// command runs (the simulator runs one command line at a time), so it is a point-in-time copy as on btrfs.
// Nested subvolumes are not part of a snapshot: they show up in it as empty directories, as on btrfs.
//
// What is kept about each subvolume persists in `<dataDir>/.sim/btrfs.json`; entries whose directory has
// disappeared (removed through `/file remove`, or on the host) are dropped when read.
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { uuidFrom } from "./records.ts";
import { type PoolState, SIM_DIR, type SimStore } from "./store.ts";

export interface SubvolumeState {
  /** Internal id, `*1A` style (shared counter with the store). */
  id: string;
  /** Pool (mount point) whose file system holds it; the btrfs label is the pool's name in the simulator. */
  pool: string;
  /** Path relative to the file system's top level, as given to `add name=`. */
  name: string;
  readOnly: boolean;
  /** Name of the subvolume this one is a snapshot of; "" for an ordinary subvolume. */
  parent: string;
  uuid: string;
  parentUuid: string;
  /** ISO time of creation. */
  createdAt: string;
}

interface Persisted {
  version: 1;
  subvolumes: SubvolumeState[];
}

const FILE = "btrfs.json";
const states = new WeakMap<SimStore, Promise<BtrfsState>>();

export class BtrfsState {
  readonly #store: SimStore;
  #subvolumes: SubvolumeState[];

  private constructor(store: SimStore, subvolumes: SubvolumeState[]) {
    this.#store = store;
    this.#subvolumes = subvolumes;
  }

  /** The one state object of a store (loaded on first use). */
  static of(store: SimStore): Promise<BtrfsState> {
    let state = states.get(store);
    if (!state) {
      state = BtrfsState.#load(store);
      states.set(store, state);
    }
    return state;
  }

  static async #load(store: SimStore): Promise<BtrfsState> {
    let persisted: Persisted = { version: 1, subvolumes: [] };
    try {
      persisted = JSON.parse(await readFile(join(store.dataDir, SIM_DIR, FILE), "utf8")) as Persisted;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    return new BtrfsState(store, persisted.subvolumes);
  }

  /** Full `/file` name of a subvolume (`<pool>/<name>`). */
  static fullName(sv: Pick<SubvolumeState, "pool" | "name">): string {
    return `${sv.pool}/${sv.name}`;
  }

  /** Every subvolume whose directory still exists, in creation order. */
  async list(): Promise<SubvolumeState[]> {
    const alive: SubvolumeState[] = [];
    for (const sv of this.#subvolumes) {
      if ((await this.#store.statName(BtrfsState.fullName(sv)))?.isDirectory()) alive.push(sv);
    }
    if (alive.length !== this.#subvolumes.length) {
      this.#subvolumes = alive;
      await this.save();
    }
    return [...alive];
  }

  /** The read-only subvolume that contains a `/file` name, if any (writes there fail as on btrfs). */
  async readOnlyContaining(fileName: string): Promise<SubvolumeState | undefined> {
    return (await this.list()).find(
      (sv) =>
        sv.readOnly &&
        (fileName === BtrfsState.fullName(sv) || fileName.startsWith(`${BtrfsState.fullName(sv)}/`)),
    );
  }

  /** Subvolumes strictly below a `/file` name. */
  async nestedIn(fullName: string): Promise<SubvolumeState[]> {
    return (await this.list()).filter((sv) => BtrfsState.fullName(sv).startsWith(`${fullName}/`));
  }

  async add(
    pool: PoolState,
    name: string,
    readOnly: boolean,
    parent?: SubvolumeState,
  ): Promise<SubvolumeState> {
    const sv: SubvolumeState = {
      id: this.#store.allocateId(),
      pool: pool.name,
      name,
      readOnly,
      parent: parent?.name ?? "",
      uuid: uuidFrom(`${pool.name}/${name}/${Date.now()}/${Math.random()}`),
      parentUuid: parent?.uuid ?? "",
      createdAt: new Date().toISOString(),
    };
    this.#subvolumes.push(sv);
    await this.#store.save(); // the id counter
    await this.save();
    return sv;
  }

  async forget(id: string): Promise<void> {
    this.#subvolumes = this.#subvolumes.filter((sv) => sv.id !== id);
    await this.save();
  }

  async save(): Promise<void> {
    const file = join(this.#store.dataDir, SIM_DIR, FILE);
    const state: Persisted = { version: 1, subvolumes: this.#subvolumes };
    await writeFile(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
  }
}
