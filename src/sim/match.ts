// How fault and latency rules pick commands: a substring, or a regular expression, of the text they see.
export type Matcher = string | RegExp;

/** True when `m` is unset (a rule for everything) or matches `text`. */
export function matches(m: Matcher | undefined, text: string): boolean {
  if (m === undefined) return true;
  if (typeof m === "string") return text.includes(m);
  m.lastIndex = 0;
  return m.test(text);
}
