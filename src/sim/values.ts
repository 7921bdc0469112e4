// Values of the RouterOS scripting language as far as the simulator needs them: what `[...]` substitution
// returns (`find` → ids, `print as-value` → records, `:len` → num, `add` → id) and how `:put`,
// `:serialize to=json` and `:len` see them.

export type Value =
  | { t: "nil" }
  | { t: "str"; v: string }
  | { t: "num"; v: number }
  | { t: "bool"; v: boolean }
  | { t: "id"; v: string }
  | { t: "arr"; v: Value[] }
  /** A keyed array (one record); key order is kept. */
  | { t: "map"; v: Array<[string, Value]> };

export const NIL: Value = { t: "nil" };
export const str = (v: string): Value => ({ t: "str", v });
export const num = (v: number): Value => ({ t: "num", v });
export const bool = (v: boolean): Value => ({ t: "bool", v });
export const id = (v: string): Value => ({ t: "id", v });
export const arr = (v: Value[]): Value => ({ t: "arr", v });
export const map = (v: Array<[string, Value]>): Value => ({ t: "map", v });

/** What `:put` prints: arrays joined with `;`, records as `key=value;...` (tik4net §1). */
export function toText(value: Value): string {
  switch (value.t) {
    case "nil":
      return "";
    case "str":
    case "id":
      return value.v;
    case "num":
      return String(value.v);
    case "bool":
      return value.v ? "true" : "false";
    case "arr":
      return value.v.map(toText).join(";");
    case "map":
      return value.v.map(([k, v]) => `${k}=${toText(v)}`).join(";");
  }
}

/** `:serialize to=json`: records become objects, ids and strings strings, numbers and booleans native. */
export function toJson(value: Value): unknown {
  switch (value.t) {
    case "nil":
      return null;
    case "str":
    case "id":
      return value.v;
    case "num":
      return value.v;
    case "bool":
      return value.v;
    case "arr":
      return value.v.map(toJson);
    case "map":
      return Object.fromEntries(value.v.map(([k, v]) => [k, toJson(v)]));
  }
}

/** `:len`: elements of an array, fields of a record, characters of a string. */
export function lengthOf(value: Value): number {
  switch (value.t) {
    case "nil":
      return 0;
    case "arr":
    case "map":
      return value.v.length;
    default:
      return toText(value).length;
  }
}

/** `$a->0`, `$a->"key"`: element of an array or field of a record. */
export function indexValue(value: Value, key: Value): Value {
  if (value.t === "arr") {
    const n = key.t === "num" ? key.v : Number(toText(key));
    return Number.isInteger(n) ? (value.v[n] ?? NIL) : NIL;
  }
  if (value.t === "map") {
    const k = toText(key);
    return value.v.find(([name]) => name === k)?.[1] ?? NIL;
  }
  return NIL;
}
