// Several independent parts in one SSH exec, so an RPC pays one round trip for them instead of one each
// (docs/routeros.md §2.2: commands separated by `;` run left to right and the line stops at the first
// runtime error). Each part after the first is preceded by `:put "__RDS_PART__<i>"`, and the line ends with
// the sentinel (§2.4). The output is cut at the markers, so every part gets exactly its own output, and an
// error is attributed to the part it stopped in: the part whose marker was the last one printed.
//
//   /disk set [find where slot="x" and comment="..."] ...; :put "__RDS_PART__1"; /disk print detail where slot="x"; :put "__RDS_OK__"
//
// A part that changes something must print nothing (as a single mutation must, result.ts). A parse error
// runs nothing and prints no marker, so it lands on the first part: only a driver bug can cause one.
import { type RosCommand, SENTINEL } from "./command.ts";
import { checkResult, type ExecResult } from "./result.ts";
import { RdsError } from "./types.ts";

export const PART_MARKER = "__RDS_PART__";

export interface Part {
  commands: RosCommand[];
  /** True when the part changes something: it must print nothing on success. */
  mutation: boolean;
}

const put = (text: string) => `:put "${text}"`;

/** The one console line that runs the parts in order. */
export function batchLine(parts: readonly Part[]): string {
  if (parts.length === 0) throw new Error("batchLine needs at least one part");
  const pieces: string[] = [];
  parts.forEach((part, i) => {
    if (part.commands.length === 0) throw new Error("a batch part needs at least one command");
    if (i > 0) pieces.push(put(`${PART_MARKER}${i}`));
    pieces.push(...part.commands.map((c) => c.render()));
  });
  pieces.push(put(SENTINEL));
  return pieces.join("; ");
}

/** The parts' rendered commands, as an RdsError names the command that failed. */
export const partText = (part: Part): string => part.commands.map((c) => c.render()).join("; ");

/**
 * Each part's output (what it printed before the next marker) when the whole line succeeded; otherwise
 * throws the classified RdsError of the part that failed, naming that part's commands. Parts after the
 * failing one did not run.
 */
export function splitBatch(result: ExecResult, parts: readonly Part[]): string[] {
  const lines = result.stdout.replace(/\r/g, "").split("\n");
  const sections: string[][] = [[]];
  for (const line of lines) {
    // Markers only count in order: the i-th marker is exactly `__RDS_PART__<i>` on a line of its own.
    if (sections.length < parts.length && line.trim() === `${PART_MARKER}${sections.length}`)
      sections.push([]);
    else sections.at(-1)!.push(line);
  }
  const last = sections.length - 1;
  const outputs = sections.map((section, i) => {
    // Every part before the last one printed reached the next marker: it finished. Its output is checked
    // as if it had ended in the sentinel; the last one carries the real ending, stderr and exit status.
    const finished: ExecResult =
      i < last
        ? { stdout: `${section.join("\n")}\n${SENTINEL}\n`, stderr: "", code: 0 }
        : { stdout: section.join("\n"), stderr: result.stderr, code: result.code };
    return checkResult(finished, partText(parts[i]!), { mutation: parts[i]!.mutation });
  });
  // The sentinel came, yet a marker did not: something printed instead of it. Fail closed.
  if (outputs.length !== parts.length)
    throw new RdsError("failure", `RouterOS: ${parts.length - outputs.length} part marker(s) missing`, {
      command: batchLine(parts),
    });
  return outputs;
}
