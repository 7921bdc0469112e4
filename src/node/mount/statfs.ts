// Capacity and inode usage of a mounted filesystem (statfs(2), no df parsing).
import { statfs } from "node:fs/promises";

export interface FsUsage {
  totalBytes: number;
  availableBytes: number;
  usedBytes: number;
  totalInodes: number;
  freeInodes: number;
  usedInodes: number;
}

export async function filesystemUsage(path: string): Promise<FsUsage> {
  const s = await statfs(path, { bigint: true });
  const bsize = s.bsize;
  return {
    totalBytes: Number(s.blocks * bsize),
    availableBytes: Number(s.bavail * bsize),
    usedBytes: Number((s.blocks - s.bfree) * bsize),
    totalInodes: Number(s.files),
    freeInodes: Number(s.ffree),
    usedInodes: Number(s.files - s.ffree),
  };
}
