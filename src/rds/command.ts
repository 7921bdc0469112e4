// A small typed builder for RouterOS CLI command lines. Nothing from a caller reaches a command line
// unvalidated: every value goes through a validator below (validate first), which returns a
// `CliValue` holding the already-quoted text (quote second). Command lines are built only from
// `CliValue`s and from string literals in this module and ./client.ts.
//
// Validation rules (the controller relies on them; change them only together with its tests):
//   slot         ^[a-z0-9][a-z0-9.-]{0,62}$                 (≤ 63; also the default NQN on RouterOS < 7.21)
//   file path    relative `/file` name: components of [A-Za-z0-9._-], no leading or trailing `/`, no `//`,
//                no `.` or `..` component, ≤ 255 characters            (e.g. storage-pool/k8s/pvc-1.img)
//   path prefix  like a file path but may end with `/` or be empty
//   mount point  one path component: ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$
//   NQN          ^nqn\.YYYY-MM\.<reverse domain [a-z0-9.-]>:<[A-Za-z0-9._:-]+>$, ≤ 223 bytes (NVMe base spec)
//   host list    0..64 NQNs (as above; empty = any host), no duplicates, joined with `,` (≤ 2048 characters)
//   comment      [A-Za-z0-9._:/+=@ -], ≤ 1024 characters, no leading/trailing space, no double space
//                (the controller stores `<prefix>:<base64url JSON>`; the space rules keep `print detail`
//                wrapping lossless)
//   size         a safe integer number of bytes, 1..2^53-1, always sent as exact digits (never `1G`:
//                RouterOS suffixes are binary for file-size but decimal elsewhere)
//   port         integer 1..65535
//   fs label     like a mount point: ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ (btrfs `fs=`)
//   subvolume    like a file path, relative to the file system's top level (no mount point)
//   fragment     components of [A-Za-z0-9._-] joined by `/`, may start or end with `/` (a `~` search)
import { RdsError } from "./types.ts";

/** A value that has been validated and rendered for the RouterOS command line (quoted when needed). */
export interface CliValue {
  readonly cli: string;
}

const cli = (text: string): CliValue => Object.freeze({ cli: text });

const invalid = (what: string, detail: string): RdsError =>
  new RdsError("invalid", `invalid ${what}: ${detail}`);

/** Printable ASCII that is never allowed in a value, quoted or not: `;` `[` `]` `{` `}` end or nest commands. */
const NEVER_IN_VALUE = /[;[\]{}]/;
const CONTROL_OR_NON_ASCII = /[^\x20-\x7e]/;
/** Values made only of these characters need no quotes in `add`/`set` or in `where` comparisons. */
const PLAIN_TOKEN = /^[A-Za-z0-9._-]+$/;

/**
 * Quote a string with RouterOS rules: inside double quotes `"`, `\` and `$` are escaped with a backslash.
 * Refuses control characters (including newline and NUL), non-ASCII and `;[]{}` outright: the
 * validators never let them through, so meeting one here means a bug, and we fail closed.
 */
export function quote(value: string): string {
  if (CONTROL_OR_NON_ASCII.test(value)) throw invalid("value", "control or non-ASCII character");
  if (NEVER_IN_VALUE.test(value)) throw invalid("value", "contains one of ; [ ] { }");
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

/** A value as written after `key=`: bare when it is a plain token, quoted otherwise (and when empty). */
export function renderValue(value: string): string {
  return PLAIN_TOKEN.test(value) ? value : quote(value);
}

function checkString(what: string, value: unknown, max: number): string {
  if (typeof value !== "string") throw invalid(what, "not a string");
  if (value.length > max) throw invalid(what, `longer than ${max} characters`);
  if (CONTROL_OR_NON_ASCII.test(value)) throw invalid(what, "control or non-ASCII character");
  return value;
}

const SLOT = /^[a-z0-9][a-z0-9.-]{0,62}$/;
export function validateSlot(slot: unknown): string {
  const s = checkString("slot", slot, 63);
  if (!SLOT.test(s)) throw invalid("slot", `${JSON.stringify(s)} must match ${SLOT.source}`);
  return s;
}

const PATH_COMPONENT = /^[A-Za-z0-9._-]+$/;
function checkComponents(what: string, parts: string[]): void {
  for (const part of parts) {
    if (part === "") throw invalid(what, "empty path component (leading, trailing or double slash)");
    if (part === "." || part === "..") throw invalid(what, "`.` and `..` components are not allowed");
    if (!PATH_COMPONENT.test(part))
      throw invalid(what, `component ${JSON.stringify(part)} has characters outside [A-Za-z0-9._-]`);
  }
}

/** A `/file` name: relative to the file root, first component = a disk mount point. */
export function validateFilePath(path: unknown): string {
  const p = checkString("file path", path, 255);
  if (p === "") throw invalid("file path", "empty");
  checkComponents("file path", p.split("/"));
  return p;
}

/** A piece of a `/file` name to search for: components joined by `/`, may start or end with one. */
export function validatePathFragment(fragment: unknown): string {
  const f = checkString("path fragment", fragment, 255);
  const parts = f.split("/");
  if (parts[0] === "") parts.shift();
  if (parts.at(-1) === "") parts.pop();
  if (parts.length === 0) throw invalid("path fragment", "empty");
  checkComponents("path fragment", parts);
  return f;
}

/** A prefix of `/file` names: may be empty, may end with `/`, the last component may be partial. */
export function validatePathPrefix(prefix: unknown): string {
  const p = checkString("path prefix", prefix, 255);
  if (p === "") return p;
  const parts = p.split("/");
  if (parts.at(-1) === "") parts.pop(); // a trailing slash is fine in a prefix
  checkComponents("path prefix", parts);
  return p;
}

const MOUNT_POINT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export function validateMountPoint(mountPoint: unknown): string {
  const m = checkString("mount point", mountPoint, 63);
  if (!MOUNT_POINT.test(m))
    throw invalid("mount point", `${JSON.stringify(m)} must match ${MOUNT_POINT.source}`);
  return m;
}

/** A btrfs file system label as `/disk btrfs ... fs=` takes it (restricted like a mount point). */
export function validateFsLabel(label: unknown): string {
  const l = checkString("file system label", label, 63);
  if (!MOUNT_POINT.test(l))
    throw invalid("file system label", `${JSON.stringify(l)} must match ${MOUNT_POINT.source}`);
  return l;
}

/** A slot prefix for listing: the same characters as a slot, possibly empty. */
export function validateSlotPrefix(prefix: unknown): string {
  const p = checkString("slot prefix", prefix, 63);
  if (p !== "" && !/^[a-z0-9][a-z0-9.-]*$/.test(p))
    throw invalid("slot prefix", `${JSON.stringify(p)} must use [a-z0-9.-]`);
  return p;
}

const NQN =
  /^nqn\.[0-9]{4}-(0[1-9]|1[0-2])\.[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*:[A-Za-z0-9._:-]+$/;
export const NQN_MAX_BYTES = 223;
export function validateNqn(nqn: unknown): string {
  const n = checkString("NQN", nqn, NQN_MAX_BYTES);
  if (!NQN.test(n))
    throw invalid("NQN", `${JSON.stringify(n)} is not nqn.YYYY-MM.<domain>:<name> with [A-Za-z0-9._:-]`);
  return n;
}

export function validateHostNqns(hosts: unknown): string[] {
  if (!Array.isArray(hosts)) throw invalid("host NQN list", "not an array");
  if (hosts.length > 64) throw invalid("host NQN list", "more than 64 hosts");
  const list = hosts.map((h) => validateNqn(h));
  if (new Set(list).size !== list.length) throw invalid("host NQN list", "duplicate host");
  if (list.join(",").length > 2048) throw invalid("host NQN list", "longer than 2048 characters");
  return list;
}

const COMMENT = /^[A-Za-z0-9._:/+=@ -]*$/;
export const COMMENT_MAX = 1024;
export function validateComment(comment: unknown): string {
  const c = checkString("comment", comment, COMMENT_MAX);
  if (!COMMENT.test(c)) throw invalid("comment", "characters outside [A-Za-z0-9._:/+=@ -]");
  if (c !== c.trim()) throw invalid("comment", "leading or trailing space");
  if (c.includes("  ")) throw invalid("comment", "double space");
  return c;
}

export function validateBytes(bytes: unknown): number {
  if (typeof bytes !== "number" || !Number.isSafeInteger(bytes) || bytes < 1) {
    throw invalid("size", `${String(bytes)} is not a whole number of bytes in 1..2^53-1`);
  }
  return bytes;
}

export function validatePort(port: unknown): number {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid("port", `${String(port)} is not an integer in 1..65535`);
  }
  return port;
}

/** Validated values, rendered for the command line. */
export const val = {
  slot: (s: unknown) => cli(renderValue(validateSlot(s))),
  filePath: (p: unknown) => cli(renderValue(validateFilePath(p))),
  mountPoint: (m: unknown) => cli(renderValue(validateMountPoint(m))),
  fsLabel: (l: unknown) => cli(renderValue(validateFsLabel(l))),
  /** A btrfs subvolume path below the file system's top level; validated like a file path. */
  subvolume: (p: unknown) => cli(renderValue(validateFilePath(p))),
  nqn: (n: unknown) => cli(renderValue(validateNqn(n))),
  hostNqns: (h: unknown) => cli(renderValue(validateHostNqns(h).join(","))),
  comment: (c: unknown) => cli(renderValue(validateComment(c))),
  bytes: (b: unknown) => cli(String(validateBytes(b))),
  port: (p: unknown) => cli(String(validatePort(p))),
  bool: (b: boolean) => cli(b ? "yes" : "no"),
  /** A literal from the driver's own code (enum values such as `file`, `directory`). */
  literal: (word: "file" | "directory") => cli(word),
  /** Always quoted: `where` comparisons need quotes around `/` and `:` (RouterOS treats them as operators). */
  quoted: (validated: string) => cli(quote(validated)),
  /** A `~` regex that matches names starting with an already validated prefix (`.` escaped for the regex). */
  prefixRegex: (validatedPrefix: string) => cli(quote(`^${validatedPrefix.replaceAll(".", "\\.")}`)),
  /** A `~` regex that matches names containing an already validated fragment anywhere. */
  containsRegex: (validatedFragment: string) => cli(quote(validatedFragment.replaceAll(".", "\\."))),
};

const KEY = /^[a-z][a-z0-9-]*$/;
const MENU = /^(\/[a-z][a-z0-9-]*)+$/;

/** One RouterOS command: `<menu> <verb> [<item>] key=value ... [where ...]`. */
export class RosCommand {
  readonly #menu: string;
  readonly #verb: string;
  #item: string | undefined;
  readonly #args: string[] = [];
  readonly #where: string[] = [];
  readonly #flags: string[] = [];
  #whereAny = false;

  constructor(menu: string, verb: "add" | "set" | "remove" | "print" | "copy") {
    if (!MENU.test(menu)) throw new Error(`bad menu ${menu}`);
    this.#menu = menu;
    this.#verb = verb;
  }

  /** The item selector `[find where key="value"]` (set/remove). */
  findWhere(key: string, value: CliValue): this {
    this.#item = `[find where ${checkKey(key)}=${value.cli}]`;
    return this;
  }

  /** The item selector `[find where k1=v1 and k2=v2 ...]` (all of the conditions). */
  findWhereAll(conditions: ReadonlyArray<readonly [string, CliValue]>): this {
    if (conditions.length === 0) throw new Error("findWhereAll needs at least one condition");
    this.#item = `[find where ${conditions.map(([k, v]) => `${checkKey(k)}=${v.cli}`).join(" and ")}]`;
    return this;
  }

  /** The item selector `[find where key="a" or key="b" ...]` (any of the values). */
  findWhereAny(key: string, values: readonly CliValue[]): this {
    if (values.length === 0) throw new Error("findWhereAny needs at least one value");
    this.#item = `[find where ${values.map((v) => `${checkKey(key)}=${v.cli}`).join(" or ")}]`;
    return this;
  }

  /** The unnamed first argument as a plain value, e.g. the source of `/file copy <source> name=...`. */
  item(value: CliValue): this {
    this.#item = value.cli;
    return this;
  }

  arg(key: string, value: CliValue | undefined): this {
    if (value !== undefined) this.#args.push(`${checkKey(key)}=${value.cli}`);
    return this;
  }

  /** A bare print option such as `detail`. */
  option(word: "detail"): this {
    this.#flags.push(word);
    return this;
  }

  /** `where key=value` (joined with `and` when called again). */
  where(key: string, value: CliValue, op: "=" | "~" = "="): this {
    if (this.#whereAny) throw new Error("where after whereAny");
    this.#where.push(`${checkKey(key)}${op}${value.cli}`);
    return this;
  }

  /** `where k1=v1 or k2=v2 ...` (any of the conditions); the command's only `where`. */
  whereAny(conditions: ReadonlyArray<readonly [string, CliValue]>): this {
    if (conditions.length === 0) throw new Error("whereAny needs at least one condition");
    if (this.#where.length > 0) throw new Error("whereAny after where");
    this.#where.push(conditions.map(([k, v]) => `${checkKey(k)}=${v.cli}`).join(" or "));
    this.#whereAny = true;
    return this;
  }

  get verb(): string {
    return `${this.#menu} ${this.#verb}`;
  }

  render(): string {
    const parts = [this.#menu, this.#verb];
    if (this.#item) parts.push(this.#item);
    parts.push(...this.#flags, ...this.#args);
    if (this.#where.length > 0) parts.push("where", this.#where.join(" and "));
    return parts.join(" ");
  }
}

function checkKey(key: string): string {
  if (!KEY.test(key)) throw new Error(`bad key ${key}`);
  return key;
}

/** Printed after a command so success is explicit: a runtime error stops the line before it. */
export const SENTINEL = "__RDS_OK__";

/** `<commands>; :put "__RDS_OK__"`: one console line, executed left to right, stopping at the first error. */
export function withSentinel(...commands: RosCommand[]): string {
  return [...commands.map((c) => c.render()), `:put "${SENTINEL}"`].join("; ");
}
