// Execs grouped into the client's round trips: execs whose spans on the simulator overlap were sent side by
// side (one round trip), the others one after another. It holds when every exec costs time (a per-exec
// latency): with none, two execs sent together may still be served one after the other.
import type { SimCommandLogEntry } from "./types.ts";

export function roundTrips(entries: readonly SimCommandLogEntry[]): SimCommandLogEntry[][] {
  const rounds: Array<{ end: number; execs: SimCommandLogEntry[] }> = [];
  for (const e of [...entries].sort((a, b) => a.span.start - b.span.start)) {
    const end = e.span.end ?? Number.POSITIVE_INFINITY; // not answered (dropped): it overlaps what follows
    const last = rounds.at(-1);
    if (last && e.span.start < last.end) {
      last.execs.push(e);
      last.end = Math.max(last.end, end);
    } else rounds.push({ end, execs: [e] });
  }
  return rounds.map((r) => r.execs);
}
