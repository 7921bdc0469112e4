// RdsClient over SSH: RouterOS CLI commands (docs/routeros.md §1.8) built from validated values, run on the
// shared SshConnection, with success made explicit by a sentinel and every read parsed strictly.
//
// The client never retries a mutating command: the controller's idempotent logic re-reads state and
// decides. What it does instead is verify after writing (`/disk add` and `/disk set` read the disk back),
// because RouterOS can print nothing and still not have done what was asked (a `[find]` that matched
// nothing is a silent no-op).
import type { Logger } from "../observability/logger.ts";
import { batchLine, type Part, splitBatch } from "./batch.ts";
import { Coalescer } from "./coalescer.ts";
import {
  type CliValue,
  RosCommand,
  SENTINEL,
  val,
  validateComment,
  validateFilePath,
  validateMountPoint,
  validatePathFragment,
  validatePathPrefix,
  validateSlot,
  validateSlotPrefix,
  withSentinel,
} from "./command.ts";
import { type DetailRecord, parsePrintDetail } from "./parse/print-detail.ts";
import { DISK_KEYS, FILE_KEYS, toFileDisk, toPool, toRdsFile } from "./parse/records.ts";
import { packageNames, parseSingleton, versionNumber } from "./parse/system.ts";
import { checkResult } from "./result.ts";
import { DEFAULTS, SshConnection, type SshConnectionOptions } from "./ssh-connection.ts";
import {
  type AddFileDiskSpec,
  type DiskChanges,
  type FileDisk,
  type Lookup,
  type LookupResult,
  type Pool,
  type RdsClient,
  type RdsConnectionConfig,
  RdsError,
  type RdsFile,
  type Removal,
  type SubvolumeSpec,
  type SystemInfo,
} from "./types.ts";

/** Lookups merged into one exec at most (its `where` grows with each; RouterOS takes long lines, but why test it). */
const LOOKUP_BATCH_MAX = 64;

/** Removal lists merged into one exec at most (each adds a value to every `[find where ...]`). */
const REMOVAL_BATCH_MAX = 64;

/** `/disk add`s merged into one exec at most: they run one after another, so the exec grows with each. */
const ADD_BATCH_MAX = 16;

/** `/disk add` with a size allocates the whole file (thick), and a grow extends it: give them longer. */
const ALLOCATING_TIMEOUT_FACTOR = 4;

const PACKAGE_KEYS: ReadonlySet<string> = new Set([
  "name",
  "version",
  "build-time",
  "size",
  "disabled",
  "scheduled",
]);

export function createRdsClient(config: RdsConnectionConfig | SshConnectionOptions, log: Logger): RdsClient {
  return new SshRdsClient(
    new SshConnection(config, log),
    config.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs,
    log,
    config.maxChannels ?? DEFAULTS.maxChannels,
  );
}

export class SshRdsClient implements RdsClient {
  readonly #conn: SshConnection;
  readonly #log: Logger;
  readonly #allocTimeoutMs: number;
  /**
   * Concurrent lookups share execs: at most half as many merged lookups at once as there are channels. Each
   * is one exec, or two side by side while two channels are free, so lookups may briefly hold every
   * channel; a write then waits for one lookup at most.
   */
  readonly #reads: Coalescer<Lookup, LookupResult>;
  /** Concurrent `/disk add`s share execs too (a burst of CreateVolume); one channel is left for the rest. */
  readonly #adds: Coalescer<PendingAdd, FileDisk>;
  /** And concurrent removals (a burst of DeleteVolume): one exec removes them all. */
  readonly #removals: Coalescer<readonly Removal[], void>;

  constructor(
    conn: SshConnection,
    commandTimeoutMs: number,
    log: Logger,
    maxChannels: number = DEFAULTS.maxChannels,
  ) {
    this.#conn = conn;
    this.#log = log;
    this.#allocTimeoutMs = commandTimeoutMs * ALLOCATING_TIMEOUT_FACTOR;
    this.#reads = new Coalescer((batch) => this.#lookupMany(batch), {
      maxInFlight: Math.max(1, Math.floor(maxChannels / 2)),
      maxBatch: LOOKUP_BATCH_MAX,
    });
    this.#adds = new Coalescer((batch) => this.#addMany(batch), {
      maxInFlight: maxChannels,
      maxBatch: ADD_BATCH_MAX,
      spread: true,
      // A burst's adds follow its lookups: the first add waits for the lookups in flight, so the adds
      // they answer go out with it, spread over every channel.
      waitFor: () => this.#reads.settled(),
    });
    this.#removals = new Coalescer((batch) => this.#removeMany(batch as Removal[][]), {
      maxInFlight: Math.max(1, Math.floor(maxChannels / 2)),
      maxBatch: REMOVAL_BATCH_MAX,
    });
  }

  get connected(): boolean {
    return this.#conn.connected;
  }

  close(): Promise<void> {
    return this.#conn.close();
  }

  async ping(): Promise<void> {
    await this.#read(`:put "${SENTINEL}"`, ":put");
  }

  async getDisk(slot: string): Promise<FileDisk | undefined> {
    return (await this.lookup({ disk: slot })).disk;
  }

  async lookup(reads: Lookup): Promise<LookupResult> {
    // Validate here, so a bad value fails its own call and never a batch it would have joined.
    const checked: Lookup = {};
    if (reads.disk !== undefined) checked.disk = validateSlot(reads.disk);
    if (reads.file !== undefined) checked.file = validateFilePath(reads.file);
    if (reads.pool !== undefined) checked.pool = validateMountPoint(reads.pool);
    if (Object.keys(checked).length === 0) return {};
    return this.#reads.request(checked);
  }

  /**
   * Lookups answered together (coalescer.ts), in one exec of at most two commands: one `/disk print`
   * selecting every slot and pool asked for, and one `/file print` selecting every file. The disks' slots
   * and the pools' mount points tell the records apart; a marker separates the two prints (batch.ts).
   */
  async #lookupMany(batch: Lookup[]): Promise<LookupResult[]> {
    const slots = unique(batch.map((l) => l.disk));
    const pools = unique(batch.map((l) => l.pool));
    const files = unique(batch.map((l) => l.file));
    const disks =
      slots.length + pools.length > 0
        ? diskPrint().whereAny([
            ...slots.map((s) => ["slot", val.quoted(s)] as const),
            ...pools.map((p) => ["mount-point", val.quoted(p)] as const),
          ])
        : undefined;
    const fileCmd =
      files.length > 0 ? filePrint().whereAny(files.map((f) => ["name", val.quoted(f)] as const)) : undefined;
    const cmds = [disks, fileCmd].filter((c): c is RosCommand => c !== undefined);
    // The two prints go as two execs side by side when two channels are free: still one round trip, and
    // each exec carries half the commands, so the answer comes sooner (23 ms instead of 43 at 10 ms per
    // command and 3 per exec; about 76 instead of 92 on the rds-hardware profile). When
    // channels are short they share one exec, marked (batch.ts): fewer channels, same round trips.
    const sideBySide = cmds.length === 2 && this.#conn.freeChannels >= 2;
    // One exec of the given prints, named by its command when it answers one lookup with one print.
    const read = (prints: RosCommand[]) =>
      this.#batch(
        prints.map((c) => ({ commands: [c], mutation: false })),
        batch.length === 1 && prints.length === 1 ? prints[0]!.verb : "batch read",
      );
    const texts = sideBySide ? (await Promise.all(cmds.map((c) => read([c])))).flat() : await read(cmds);
    const diskRecords = disks ? this.#parse(texts[0]!, disks, DISK_KEYS) : [];
    const fileRecords = fileCmd ? this.#parse(texts[cmds.length - 1]!, fileCmd, FILE_KEYS) : [];
    return batch.map((l) => {
      const out: LookupResult = {};
      if (l.disk !== undefined) set(out, "disk", this.#diskIn(diskRecords, l.disk, disks!));
      if (l.pool !== undefined) set(out, "pool", this.#poolIn(diskRecords, l.pool, disks!));
      if (l.file !== undefined) set(out, "file", this.#fileIn(fileRecords, l.file, fileCmd!));
      return out;
    });
  }

  async listDisks(slotPrefix: string): Promise<FileDisk[]> {
    const prefix = validateSlotPrefix(slotPrefix);
    const cmd = diskPrint();
    if (prefix !== "") cmd.where("slot", val.prefixRegex(prefix), "~");
    const disks: FileDisk[] = [];
    for (const r of await this.#printDetail(cmd, DISK_KEYS)) {
      if (r.props.get("type") !== "file" || !r.props.get("slot")?.startsWith(prefix)) continue;
      try {
        disks.push(toFileDisk(r));
      } catch (e) {
        // One odd disk (made by someone else) must not hide all the others.
        this.#log.warn(
          { slot: r.props.get("slot"), err: (e as Error).message },
          "skipping a /disk record that could not be read",
        );
      }
    }
    return disks;
  }

  async addFileDisk(spec: AddFileDiskSpec): Promise<FileDisk> {
    // Built (and so validated) here: a bad value fails its own call and never a batch it would join.
    return this.#adds.request({ spec, add: addCommand(spec) });
  }

  /**
   * `/disk add`s answered together (coalescer.ts), read back in the same exec:
   *
   *   /disk add slot=a ...; /disk add slot=b ...; /disk print detail where slot="a" or slot="b"; :put "__RDS_OK__"
   *
   * A lone add is the same line with one add. The adds print nothing on success, so the output before the
   * sentinel is the print's alone and needs no part marker (one command less per exec: issue 15); text
   * an add printed would not parse as the print, and is then sorted out as below. When the line stops at an
   * error (or its output is not understood), the slots are read again to tell which adds ran (their disk
   * holds the comment just written), which one failed (the first that did not run to the end: the error is
   * its) and which never ran (after it: sent again, as their own requests).
   */
  async #addMany(batch: PendingAdd[]): Promise<Array<FileDisk | Promise<FileDisk>>> {
    const print = diskPrint().whereAny(batch.map((b) => ["slot", val.quoted(b.spec.slot)] as const));
    const line = withSentinel(...batch.map((b) => b.add), print);
    // Each add allocating its file gets the allocating timeout, in turn.
    const allocating = batch.some((b) => b.spec.fileSizeBytes !== undefined);
    const timeoutMs = allocating ? this.#allocTimeoutMs * batch.length : undefined;
    let text: string;
    try {
      const result = await this.#conn.exec(line, { verb: "/disk add", ...(timeoutMs ? { timeoutMs } : {}) });
      text = checkResult(result, line, { mutation: false });
    } catch (err) {
      // Not RouterOS's answer (timeout, connection lost): nobody knows which ran, each call says so.
      if (!(err instanceof RdsError) || err.kind === "timeout" || err.kind === "unavailable") throw err;
      // A lone add: the line stopped at the add (its error), or, never seen, at the read-back after it
      // ran; either way the call fails and changes nothing more, and the caller's retry reads the slot.
      if (batch.length === 1)
        throw new RdsError(err.kind, err.message, { command: batch[0]!.add.render(), cause: err });
      return this.#sortOutAdds(batch, err, false);
    }
    let records: DetailRecord[];
    try {
      records = this.#parse(text, print, DISK_KEYS);
    } catch (err) {
      // The sentinel came, so every add ran, yet something printed what the print does not: find out.
      return this.#sortOutAdds(batch, err as RdsError, true);
    }
    return batch.map((b) => settled(() => verifyAdded(b.spec, this.#diskIn(records, b.spec.slot, print))));
  }

  async #sortOutAdds(
    batch: PendingAdd[],
    err: RdsError,
    allRan: boolean,
  ): Promise<Array<FileDisk | Promise<FileDisk>>> {
    this.#log.warn({ err: err.message, adds: batch.length }, "a /disk add line failed; reading its slots");
    const found = await Promise.all(batch.map((b) => this.lookup({ disk: b.spec.slot })));
    let stopped = false;
    return batch.map((b, i) => {
      if (stopped) return this.addFileDisk(b.spec); // never ran: send it again
      const disk = found[i]!.disk;
      if (allRan || (disk && disk.comment === b.spec.comment && disk.filePath === b.spec.filePath))
        return settled(() => verifyAdded(b.spec, disk));
      stopped = true;
      return rejected(new RdsError(err.kind, err.message, { command: b.add.render(), cause: err }));
    });
  }

  async setDisk(slot: string, changes: DiskChanges): Promise<FileDisk> {
    const slotIs = ["slot", val.quoted(validateSlot(slot))] as const;
    // Compare-and-set: the record as read is part of the selector, so a concurrent writer's change makes
    // the `[find]` empty and this set a no-op. The re-export bounce selects on the comment just written,
    // so it only runs when the set did.
    const select =
      changes.ifComment === undefined
        ? [slotIs]
        : [slotIs, ["comment", commentValue(changes.ifComment)] as const];
    const after =
      changes.comment !== undefined && changes.ifComment !== undefined
        ? [slotIs, ["comment", commentValue(changes.comment)] as const]
        : select;
    const set = new RosCommand("/disk", "set")
      .findWhereAll(select)
      .arg("file-size", changes.fileSizeBytes === undefined ? undefined : val.bytes(changes.fileSizeBytes))
      .arg("comment", changes.comment === undefined ? undefined : val.comment(changes.comment))
      .arg("nvme-tcp-export", changes.nvmeExport === undefined ? undefined : val.bool(changes.nvmeExport))
      .arg(
        "nvme-tcp-server-allow-host-name",
        changes.allowedHosts === undefined ? undefined : val.hostNqns(changes.allowedHosts),
      )
      .arg("nvme-tcp-server-port", changes.nvmePort === undefined ? undefined : val.port(changes.nvmePort))
      .arg("nvme-tcp-server-nqn", changes.nqn === undefined ? undefined : val.nqn(changes.nqn));
    const bounce = changes.reexport
      ? [
          new RosCommand("/disk", "set").findWhereAll(after).arg("nvme-tcp-export", val.bool(false)),
          new RosCommand("/disk", "set").findWhereAll(after).arg("nvme-tcp-export", val.bool(true)),
        ]
      : [];
    // `set [find ...]` on a missing slot is a silent no-op: only reading back tells. The read back rides
    // in the same exec, after the set (and the bounce) ran.
    const disk = await this.#mutateThenReadDisk(
      [set, ...bounce],
      slot,
      changes.fileSizeBytes === undefined ? undefined : this.#allocTimeoutMs,
    );
    if (!disk) throw new RdsError("not-found", `no disk with slot ${slot}`);
    if (changes.ifComment !== undefined && disk.comment !== (changes.comment ?? changes.ifComment))
      throw new RdsError(
        "conflict",
        `disk ${slot} was changed by someone else since it was read (its record differs); nothing was written`,
      );
    const expected: Partial<FileDisk> = {};
    if (changes.fileSizeBytes !== undefined) expected.sizeBytes = changes.fileSizeBytes;
    if (changes.comment !== undefined) expected.comment = changes.comment;
    if (changes.nvmeExport !== undefined) expected.nvmeExport = changes.nvmeExport;
    if (changes.reexport) expected.nvmeExport = true;
    if (changes.allowedHosts !== undefined && disk.nvmeExport) expected.allowedHosts = changes.allowedHosts;
    if (changes.nvmePort !== undefined && disk.nvmeExport) expected.nvmePort = changes.nvmePort;
    if (changes.nqn !== undefined && disk.nvmeExport) expected.nqn = changes.nqn;
    verify("/disk set", disk, expected);
    return disk;
  }

  async removeDisk(slot: string): Promise<void> {
    await this.#mutate(diskRemoval(slot));
  }

  async removeAll(removals: readonly Removal[]): Promise<void> {
    if (removals.length === 0) return;
    // Built (and so validated) here: a bad value fails its own call and never a batch it would join.
    removalCommands([removals]);
    await this.#removals.request(removals);
  }

  /**
   * Removal lists answered together (coalescer.ts). Lists of the same shape (the same kinds in the same
   * order, e.g. a DeleteVolume's disk then file) share one exec: the i-th command removes the i-th item of
   * every list at once, `[find where slot="a" or slot="b"]`, so a burst of deletes costs the appliance the
   * commands of one delete. Each list keeps its own order (a disk goes before its file), and a runtime
   * error stops the line before anything later, as for one list. Removals select with `[find]` and an
   * empty one is a no-op, so after a failed merged line each list is simply sent again on its own, and gets
   * its own answer.
   */
  async #removeMany(batch: Removal[][]): Promise<Array<void | Promise<void>>> {
    const shapes = new Map<string, number[]>();
    batch.forEach((removals, i) => {
      const shape = removals.map((r) => Object.keys(r)[0]).join(",");
      shapes.set(shape, [...(shapes.get(shape) ?? []), i]);
    });
    const answers: Array<void | Promise<void>> = new Array(batch.length);
    await Promise.all(
      [...shapes.values()].map(async (members) => {
        const lists = members.map((i) => batch[i]!);
        try {
          await this.#mutate(removalCommands(lists));
          for (const i of members) answers[i] = undefined;
        } catch (err) {
          if (
            lists.length === 1 ||
            !(err instanceof RdsError) ||
            err.kind === "timeout" ||
            err.kind === "unavailable"
          )
            for (const i of members) answers[i] = rejected(err);
          else for (const i of members) answers[i] = this.#mutate(removalCommands([batch[i]!]));
        }
      }),
    );
    return answers;
  }

  async getFile(name: string): Promise<RdsFile | undefined> {
    const cmd = fileByName(name);
    return this.#fileIn(await this.#printDetail(cmd, FILE_KEYS), name, cmd);
  }

  async listFiles(prefix: string): Promise<RdsFile[]> {
    const p = validatePathPrefix(prefix);
    const cmd = filePrint();
    if (p !== "") cmd.where("name", val.prefixRegex(p), "~");
    const records = await this.#printDetail(cmd, FILE_KEYS);
    return records.map((r) => this.#typed(r, toRdsFile, cmd)).filter((f) => f.name.startsWith(p));
  }

  async removeFile(name: string): Promise<void> {
    await this.#mutate([fileRemoval(name)]);
  }

  async copyFile(source: string, destination: string, opts: { timeoutMs?: number } = {}): Promise<void> {
    const copy = new RosCommand("/file", "copy")
      .item(val.quoted(validateFilePath(source)))
      .arg("name", val.filePath(destination));
    await this.#mutate([copy], opts.timeoutMs ?? this.#allocTimeoutMs);
    // Verify after write: the copy must be there (RouterOS could print nothing and not have copied).
    const made = await this.getFile(destination);
    if (!made || made.type === "directory")
      throw new RdsError(
        "failure",
        `verify after /file copy: ${destination} is ${made ? "a directory" : "missing"}`,
      );
  }

  async findFiles(fragment: string): Promise<RdsFile[]> {
    const f = validatePathFragment(fragment);
    const cmd = filePrint().where("name", val.containsRegex(f), "~");
    const records = await this.#printDetail(cmd, FILE_KEYS);
    return records.map((r) => this.#typed(r, toRdsFile, cmd)).filter((file) => file.name.includes(f));
  }

  async addSubvolume(spec: SubvolumeSpec): Promise<void> {
    const add = new RosCommand("/disk/btrfs/subvolume", "add")
      .arg("fs", val.fsLabel(spec.fsLabel))
      .arg("name", val.subvolume(spec.name))
      .arg("parent", spec.parent === undefined ? undefined : val.subvolume(spec.parent))
      .arg("read-only", spec.readOnly ? val.bool(true) : undefined);
    // A snapshot is metadata only on btrfs; the allocating timeout covers appliances that copy.
    await this.#mutate([add], spec.parent === undefined ? undefined : this.#allocTimeoutMs);
    const path = `${validateMountPoint(spec.mountPoint)}/${spec.name}`;
    const made = await this.getFile(path);
    if (made?.type !== "directory")
      throw new RdsError(
        "failure",
        `verify after /disk btrfs subvolume add: ${path} is not a directory in /file`,
      );
  }

  async removeSubvolume(name: string): Promise<void> {
    await this.#mutate([subvolumeRemoval(name)]);
  }

  async ensureDirectory(name: string): Promise<void> {
    const parts = validateFilePath(name).split("/");
    // The first component is a disk mount point, which exists or is not ours to create.
    for (let i = 2; i <= parts.length; i++) await this.#ensureOneDirectory(parts.slice(0, i).join("/"));
  }

  async getPool(mountPoint: string): Promise<Pool | undefined> {
    const cmd = poolByMountPoint(mountPoint);
    return this.#poolIn(await this.#printDetail(cmd, DISK_KEYS), mountPoint, cmd);
  }

  async systemInfo(): Promise<SystemInfo> {
    const [resourceText, packageRecords] = await Promise.all([
      this.#read(withSentinel(new RosCommand("/system/resource", "print")), "/system/resource print"),
      this.#printDetail(new RosCommand("/system/package", "print").option("detail"), PACKAGE_KEYS),
    ]);
    try {
      const resource = parseSingleton(resourceText);
      const info: SystemInfo = {
        version: versionNumber(resource.get("version") ?? ""),
        packages: packageNames(packageRecords),
      };
      const board = resource.get("board-name");
      if (board) info.boardName = board;
      return info;
    } catch (e) {
      throw new RdsError("failure", `unexpected /system resource output: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  async #ensureOneDirectory(path: string): Promise<void> {
    const existing = await this.getFile(path);
    if (existing?.type === "directory") return;
    if (existing) throw new RdsError("exists", `${path} exists and is a ${existing.type}, not a directory`);
    try {
      await this.#mutate([
        new RosCommand("/file", "add").arg("type", val.literal("directory")).arg("name", val.filePath(path)),
      ]);
    } catch (e) {
      // Someone else made it between our read and our add: fine, if it is a directory.
      if (!(e instanceof RdsError && e.kind === "exists") || (await this.getFile(path))?.type !== "directory")
        throw e;
    }
  }

  async #read(line: string, verb: string, timeoutMs?: number): Promise<string> {
    const result = await this.#conn.exec(line, { verb, ...(timeoutMs ? { timeoutMs } : {}) });
    return checkResult(result, line, { mutation: false });
  }

  async #mutate(commands: RosCommand[], timeoutMs?: number): Promise<void> {
    const line = withSentinel(...commands);
    const result = await this.#conn.exec(line, {
      verb: commands[0]?.verb ?? "other",
      ...(timeoutMs ? { timeoutMs } : {}),
    });
    checkResult(result, line, { mutation: true });
  }

  /** Runs the parts in one exec (batch.ts) and returns each part's output. */
  async #batch(parts: Part[], verb: string, timeoutMs?: number): Promise<string[]> {
    const line = batchLine(parts);
    const result = await this.#conn.exec(line, { verb, ...(timeoutMs ? { timeoutMs } : {}) });
    return splitBatch(result, parts);
  }

  /** The mutation, then the disk read back, in one exec. */
  async #mutateThenReadDisk(
    commands: RosCommand[],
    slot: string,
    timeoutMs?: number,
  ): Promise<FileDisk | undefined> {
    const print = diskBySlot(slot);
    const [, text] = await this.#batch(
      [
        { commands, mutation: true },
        { commands: [print], mutation: false },
      ],
      commands[0]?.verb ?? "other",
      timeoutMs,
    );
    return this.#diskIn(this.#parse(text!, print, DISK_KEYS), slot, print);
  }

  async #printDetail(cmd: RosCommand, keys: ReadonlySet<string>): Promise<DetailRecord[]> {
    return this.#parse(await this.#read(withSentinel(cmd), cmd.verb), cmd, keys);
  }

  #parse(text: string, cmd: RosCommand, keys: ReadonlySet<string>): DetailRecord[] {
    try {
      return parsePrintDetail(text, { knownKeys: keys });
    } catch (e) {
      throw new RdsError("failure", `unexpected RouterOS output: ${(e as Error).message}`, {
        command: cmd.render(),
        cause: e,
      });
    }
  }

  #diskIn(records: DetailRecord[], slot: string, cmd: RosCommand): FileDisk | undefined {
    const match = records.find((r) => r.props.get("slot") === slot && r.props.get("type") === "file");
    return match ? this.#typed(match, toFileDisk, cmd) : undefined;
  }

  #fileIn(records: DetailRecord[], name: string, cmd: RosCommand): RdsFile | undefined {
    const match = records.find((r) => stripSlash(r.props.get("name")) === name);
    return match ? this.#typed(match, toRdsFile, cmd) : undefined;
  }

  #poolIn(records: DetailRecord[], mountPoint: string, cmd: RosCommand): Pool | undefined {
    const match = records.find((r) => stripSlash(r.props.get("mount-point")) === mountPoint);
    return match ? this.#typed(match, toPool, cmd) : undefined;
  }

  #typed<T>(record: DetailRecord, map: (r: DetailRecord) => T, cmd: RosCommand): T {
    try {
      return map(record);
    } catch (e) {
      throw new RdsError("failure", `unexpected RouterOS record: ${(e as Error).message}`, {
        command: cmd.render(),
        cause: e,
      });
    }
  }
}

/** A comment as a `where` operand: validated like one that is written, always quoted. */
const commentValue = (comment: string) => val.quoted(validateComment(comment));
const diskPrint = () => new RosCommand("/disk", "print").option("detail");
const filePrint = () => new RosCommand("/file", "print").option("detail");
const stripSlash = (s: string | undefined) => s?.replace(/^\/+/, "");
const diskBySlot = (slot: string) => diskPrint().where("slot", val.quoted(validateSlot(slot)));
const fileByName = (name: string) => filePrint().where("name", val.quoted(validateFilePath(name)));
const poolByMountPoint = (mountPoint: string) =>
  diskPrint().where("mount-point", val.quoted(validateMountPoint(mountPoint)));

interface PendingAdd {
  spec: AddFileDiskSpec;
  add: RosCommand;
}

function addCommand(spec: AddFileDiskSpec): RosCommand {
  const add = new RosCommand("/disk", "add")
    .arg("type", val.literal("file"))
    .arg("slot", val.slot(spec.slot))
    .arg("file-path", val.filePath(spec.filePath))
    .arg("file-size", spec.fileSizeBytes === undefined ? undefined : val.bytes(spec.fileSizeBytes))
    .arg("comment", spec.comment === "" ? undefined : val.comment(spec.comment))
    .arg("nvme-tcp-export", val.bool(spec.nvmeExport));
  if (spec.nvmeExport) {
    add
      .arg("nvme-tcp-server-port", val.port(spec.nvmePort))
      .arg("nvme-tcp-server-nqn", spec.nqn === undefined ? undefined : val.nqn(spec.nqn))
      .arg(
        "nvme-tcp-server-allow-host-name",
        spec.allowedHosts === undefined ? undefined : val.hostNqns(spec.allowedHosts),
      );
  }
  return add;
}

/** Verify after `/disk add`: the disk is there as it was asked for. */
function verifyAdded(spec: AddFileDiskSpec, disk: FileDisk | undefined): FileDisk {
  if (!disk) throw new RdsError("failure", `verify after /disk add: disk ${spec.slot} does not exist`);
  const expected: Partial<FileDisk> = {
    filePath: spec.filePath,
    nvmeExport: spec.nvmeExport,
    comment: spec.comment,
  };
  if (spec.fileSizeBytes !== undefined) expected.sizeBytes = spec.fileSizeBytes;
  if (spec.nvmeExport) {
    expected.nvmePort = spec.nvmePort;
    if (spec.nqn !== undefined) expected.nqn = spec.nqn;
    if (spec.allowedHosts !== undefined) expected.allowedHosts = spec.allowedHosts;
  }
  verify("/disk add", disk, expected);
  return disk;
}

/** A value, or its error as a rejected promise (handled, so it is never reported as unhandled). */
function settled<T>(fn: () => T): T | Promise<T> {
  try {
    return fn();
  } catch (err) {
    return rejected(err);
  }
}

function rejected<T>(err: unknown): Promise<T> {
  const p = Promise.reject(err);
  p.catch(() => {});
  return p;
}

const unique = (xs: Array<string | undefined>): string[] => [
  ...new Set(xs.filter((x): x is string => x !== undefined)),
];

function set<K extends keyof LookupResult>(out: LookupResult, key: K, value: LookupResult[K]): void {
  if (value !== undefined) out[key] = value;
}

/**
 * The commands that remove these lists' items: for each position, one command over that position of every
 * list (the lists have the same shape, #removeMany). A disk's export goes off first, in the same command
 * line, so no initiator keeps writing to a disk that is going away; a runtime error stops the line, so the
 * remove never runs if disabling failed. An empty `[find]` changes nothing and prints nothing: a missing
 * item is not an error.
 */
function removalCommands(lists: ReadonlyArray<readonly Removal[]>): RosCommand[] {
  const first = lists[0]!;
  return first.flatMap((r, pos) => {
    const at = lists.map((l) => l[pos]!);
    if ("disk" in r) {
      const slots = at.map((x) => val.quoted(validateSlot((x as { disk: string }).disk)));
      return [
        new RosCommand("/disk", "set").findWhereAny("slot", slots).arg("nvme-tcp-export", val.bool(false)),
        new RosCommand("/disk", "remove").findWhereAny("slot", slots),
      ];
    }
    if ("file" in r)
      return [
        new RosCommand("/file", "remove").findWhereAny(
          "name",
          at.map((x) => val.quoted(validateFilePath((x as { file: string }).file))),
        ),
      ];
    return [
      new RosCommand("/disk/btrfs/subvolume", "remove").findWhereAny(
        "name",
        at.flatMap((x) => subvolumeNames((x as { subvolume: string }).subvolume)),
      ),
    ];
  });
}

function diskRemoval(slot: string): RosCommand[] {
  return removalCommands([[{ disk: slot }]]);
}

const fileRemoval = (name: string) =>
  new RosCommand("/file", "remove").findWhere("name", val.quoted(validateFilePath(name)));

// The manual removes a snapshot made as `name=Snapshots/x` with `[find where name=x]`: whether `name`
// reads back as the whole path or its last component is unclear, so match either (the driver's last
// components are unique ids). An empty `[find]` removes nothing: a missing subvolume is not an error.
function subvolumeNames(name: string): CliValue[] {
  const path = validateFilePath(name);
  const last = path.slice(path.lastIndexOf("/") + 1);
  return last === path ? [val.quoted(path)] : [val.quoted(path), val.quoted(last)];
}

const subvolumeRemoval = (name: string) =>
  new RosCommand("/disk/btrfs/subvolume", "remove").findWhereAny("name", subvolumeNames(name));

/** Throws RdsError("failure") listing every field that differs from what was written. */
function verify(what: string, disk: FileDisk, expected: Partial<FileDisk>): void {
  const wrong = Object.entries(expected)
    .filter(([k, v]) => JSON.stringify(disk[k as keyof FileDisk]) !== JSON.stringify(v))
    .map(([k, v]) => `${k}: wanted ${JSON.stringify(v)}, got ${JSON.stringify(disk[k as keyof FileDisk])}`);
  if (wrong.length > 0)
    throw new RdsError("failure", `verify after ${what} on ${disk.slot}: ${wrong.join("; ")}`);
}
