// Fault: a `/disk add ... file-size=N` that takes `ms` to allocate its file, and keeps going after the
// client gave up (closing an SSH channel does not stop a RouterOS command). The file appears at once and
// grows in steps; the disk item appears only when the allocation is done, when the command line itself
// runs. Meanwhile other sessions see a growing file with no disk item, which is what a driver's retry
// must not mistake for a leftover (issue 14 item 3).
import { sleep } from "../util/sleep.ts";
import type { SimStore } from "./store.ts";

const STEPS = 8;

export async function allocateSlowly(
  store: SimStore,
  serially: <T>(fn: () => Promise<T>) => Promise<T>,
  command: string,
  ms: number,
): Promise<void> {
  const path = /\/disk add\b.*?\bfile-path=(?:"([^"]*)"|(\S+))/.exec(command);
  const size = /\bfile-size=(\d+)\b/.exec(command);
  const name = path && store.normalizeName(path[1] ?? path[2] ?? "");
  if (!name || !size) return;
  const total = Number(size[1]);
  for (let i = 1; i <= STEPS; i++) {
    await serially(async () => {
      const bytes = Math.floor((total * i) / (STEPS + 1));
      if (await store.statName(name)) await store.resizeFile(name, bytes);
      else await store.createSparseFile(name, bytes);
    });
    await sleep(ms / STEPS);
  }
}
