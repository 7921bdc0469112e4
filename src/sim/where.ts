// Evaluation of `where` / `find` expressions against menu items (docs/routeros.md §1.6e, tik4net §3):
// - `key=value`, `!=`, `<`, `>`, `<=`, `>=` compare by the property's type (numbers numerically, booleans
//   as yes/no/true/false, strings exactly; `.id` case-insensitively);
// - `key~"regex"` matches the property's text form;
// - a bare `key` tests "is set": true for a set boolean, a non-empty string, a present number;
// - an item without the property matches only `!=`;
// - an unquoted operand containing `/` or `:` never equals anything (RouterOS reads those as operators).
import type { Expr, ValueNode } from "./commands.ts";
import { type Item, itemValue } from "./items.ts";
import { toText, type Value } from "./values.ts";

export type Predicate = (item: Item) => boolean;

/** Evaluates the operands once (they may be `[...]` substitutions), then returns a pure predicate. */
export async function compileWhere(
  expr: Expr,
  evalValue: (node: ValueNode) => Promise<Value>,
): Promise<Predicate> {
  switch (expr.k) {
    case "and":
    case "or": {
      const a = await compileWhere(expr.a, evalValue);
      const b = await compileWhere(expr.b, evalValue);
      return expr.k === "and" ? (i) => a(i) && b(i) : (i) => a(i) || b(i);
    }
    case "not": {
      const e = await compileWhere(expr.e, evalValue);
      return (i) => !e(i);
    }
    case "cmp": {
      const { key, op } = expr;
      if (!op || !expr.value) return (i) => isSet(itemValue(i, key));
      if (expr.opaque) return () => op === "!=";
      const operand = toText(await evalValue(expr.value));
      let regex: RegExp | undefined;
      if (op === "~") {
        try {
          regex = new RegExp(operand);
        } catch {
          return () => false;
        }
      }
      return (i) => {
        const v = itemValue(i, key);
        if (v === undefined) return op === "!=";
        if (regex) return regex.test(toText(v));
        const c = compare(v, operand);
        if (c === undefined) return op === "!=";
        switch (op) {
          case "=":
            return c === 0;
          case "!=":
            return c !== 0;
          case "<":
            return c < 0;
          case ">":
            return c > 0;
          case "<=":
            return c <= 0;
          case ">=":
            return c >= 0;
          default:
            return false;
        }
      };
    }
  }
}

function isSet(v: Value | undefined): boolean {
  if (v === undefined) return false;
  if (v.t === "bool") return v.v;
  if (v.t === "str") return v.v !== "";
  return v.t !== "nil";
}

const TRUE = new Set(["yes", "true"]);
const FALSE = new Set(["no", "false"]);

/** Sign of (property - operand); undefined when the operand is not of the property's type. */
function compare(v: Value, operand: string): number | undefined {
  switch (v.t) {
    case "bool": {
      const b = TRUE.has(operand) ? true : FALSE.has(operand) ? false : undefined;
      if (b === undefined) return undefined;
      return v.v === b ? 0 : v.v ? 1 : -1;
    }
    case "num": {
      if (!/^-?\d+$/.test(operand)) return undefined;
      return Math.sign(v.v - Number(operand));
    }
    case "id": {
      const a = v.v.toUpperCase();
      const b = operand.toUpperCase();
      return a === b ? 0 : a < b ? -1 : 1;
    }
    default: {
      const a = toText(v);
      return a === operand ? 0 : a < operand ? -1 : 1;
    }
  }
}
