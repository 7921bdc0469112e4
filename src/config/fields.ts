// Small value parsers for the configuration (schema.ts). A value arrives as text (a flag or an environment
// variable) or as a JSON value (the config file); each parser accepts exactly what it documents and says
// why it refuses anything else. `undefined` means "not given": only optional() and withDefault() take it.

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

export interface Field<T> {
  parse(value: unknown): Parsed<T>;
}

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const no = (message: string): Parsed<never> => ({ ok: false, message });
const describe = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

const required = <T>(parse: (v: unknown) => Parsed<T>): Field<T> => ({
  parse: (v) => (v === undefined ? no("a value is required") : parse(v)),
});

/** A string, optionally of a length range and matching a pattern (then `message` explains the form). */
export function text(
  opts: { min?: number; max?: number; pattern?: RegExp; message?: string } = {},
): Field<string> {
  return required((v) => {
    if (typeof v !== "string") return no(`expected a string, got ${describe(v)}`);
    if (opts.min !== undefined && v.length < opts.min)
      return no(`must be at least ${opts.min} character${opts.min === 1 ? "" : "s"} long`);
    if (opts.max !== undefined && v.length > opts.max)
      return no(`must be at most ${opts.max} characters long`);
    if (opts.pattern && !opts.pattern.test(v)) return no(opts.message ?? `must match ${opts.pattern}`);
    return ok(v);
  });
}

/** A whole number in [min, max]: a JSON integer, or its decimal text. */
export function int(opts: { min?: number; max?: number } = {}): Field<number> {
  return required((v) => {
    let n: number;
    if (typeof v === "number") n = v;
    else if (typeof v === "string" && /^\s*[-+]?\d+\s*$/.test(v)) n = Number(v);
    else return no(`expected a whole number, got ${typeof v === "string" ? JSON.stringify(v) : describe(v)}`);
    if (!Number.isSafeInteger(n)) return no(`expected a whole number, got ${n}`);
    if (opts.min !== undefined && n < opts.min) return no(`must be at least ${opts.min}`);
    if (opts.max !== undefined && n > opts.max) return no(`must be at most ${opts.max}`);
    return ok(n);
  });
}

/** One of the listed strings. */
export function oneOf<const T extends readonly string[]>(values: T): Field<T[number]> {
  return required((v) =>
    typeof v === "string" && (values as readonly string[]).includes(v)
      ? ok(v as T[number])
      : no(
          `expected one of ${values.join(", ")}, got ${typeof v === "string" ? JSON.stringify(v) : describe(v)}`,
        ),
  );
}

const TRUE = ["true", "1", "yes"];
const FALSE = ["false", "0", "no"];

/** A JSON boolean, or true/false, 1/0, yes/no as text. */
export const boolish: Field<boolean> = required((v) => {
  if (typeof v === "boolean") return ok(v);
  if (typeof v === "string" && TRUE.includes(v)) return ok(true);
  if (typeof v === "string" && FALSE.includes(v)) return ok(false);
  return no(
    `expected true or false (or 1/0, yes/no), got ${typeof v === "string" ? JSON.stringify(v) : describe(v)}`,
  );
});

/** A JSON array whose every element the item field accepts. */
export function list<T>(item: Field<T>): Field<T[]> {
  return required((v) => {
    if (!Array.isArray(v)) return no(`expected a list, got ${describe(v)}`);
    const out: T[] = [];
    for (const [i, x] of v.entries()) {
      const r = item.parse(x);
      if (!r.ok) return no(`item ${i}: ${r.message}`);
      out.push(r.value);
    }
    return ok(out);
  });
}

/** Absent is fine (undefined); a value given must be valid. */
export const optional = <T>(field: Field<T>): Field<T | undefined> => ({
  parse: (v) => (v === undefined ? ok(undefined) : field.parse(v)),
});

/** Absent → the default; a value given must be valid. */
export const withDefault = <T>(field: Field<T>, fallback: T): Field<T> => ({
  parse: (v) =>
    v === undefined ? ok(Array.isArray(fallback) ? ([...fallback] as T) : fallback) : field.parse(v),
});
