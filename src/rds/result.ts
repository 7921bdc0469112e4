// Turning the raw output of one exec channel into success or an RdsError. RouterOS exits 0 and prints
// errors on stdout (CHR 7.23), other setups may use stderr and a non-zero status: we read both streams,
// require the sentinel (./command.ts SENTINEL) for success and never trust the exit status alone.
import { SENTINEL } from "./command.ts";
import { RdsError, type RdsErrorKind } from "./types.ts";

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when the server sent none. */
  code: number | null;
}

/** Error texts from docs/routeros.md §2.3, most specific first. */
const PATTERNS: Array<[RegExp, RdsErrorKind]> = [
  [/not enough space|no space left|disk is full|out of space/i, "no-space"],
  [/not enough permissions|not allowed|permission denied/i, "permission"],
  [/no such item|no such file|no such disk|not found|does not exist/i, "not-found"],
  [/already (exists|have|used|in use)|exists|duplicate/i, "exists"],
  [
    /bad command name|expected end of command|syntax error|invalid value|input does not match|expected item id|invalid (argument|parameter)|contains invalid|missing value|unknown parameter|expected command name/i,
    "invalid",
  ],
  [/failure:/i, "failure"],
];

/** The RdsError kind for an error text printed by RouterOS; unrecognised text is a "failure". */
export function classifyError(text: string): RdsErrorKind {
  for (const [pattern, kind] of PATTERNS) if (pattern.test(text)) return kind;
  return "failure";
}

const lines = (text: string) => text.replace(/\r/g, "").split("\n");

/**
 * The output before the sentinel when the command succeeded; throws a classified RdsError otherwise.
 * Success = the last non-blank stdout line is exactly the sentinel, stderr is blank and the exit status is
 * 0 or absent. `mutation: true` also requires that nothing was printed before the sentinel (add, set and
 * remove are silent on success, so any text is an error or a warning we do not understand).
 */
export function checkResult(result: ExecResult, command: string, opts: { mutation: boolean }): string {
  const out = lines(result.stdout);
  while (out.length > 0 && out.at(-1)?.trim() === "") out.pop();
  const sentinelSeen = out.at(-1)?.trim() === SENTINEL;
  if (sentinelSeen) out.pop();
  const body = out.join("\n");
  const stderr = result.stderr.replace(/\r/g, "").trim();
  const exitOk = result.code === 0 || result.code === null;
  if (sentinelSeen && stderr === "" && exitOk && (!opts.mutation || body.trim() === "")) return body;

  const message = [body.trim(), stderr].filter((s) => s !== "").join("\n");
  const detail = message || `no output, exit status ${result.code ?? "none"}`;
  throw new RdsError(message ? classifyError(message) : "failure", `RouterOS: ${firstLines(detail)}`, {
    command,
  });
}

function firstLines(text: string): string {
  const all = lines(text).filter((l) => l.trim() !== "");
  const shown = all.slice(0, 5).join(" | ");
  return all.length > 5 ? `${shown} | ...` : shown;
}
