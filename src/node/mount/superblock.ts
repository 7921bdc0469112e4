// Size of a filesystem as its superblock records it, read straight from the device (no tool spawn):
// used at stage to notice a filesystem smaller than its device, which happens when a volume is restored
// from a snapshot or cloned at a larger size, or was expanded by the controller while unstaged.
import { open } from "node:fs/promises";

async function readAt(device: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(device, "r");
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Bytes the filesystem spans, or undefined when its superblock cannot be read or is not recognised. */
export async function filesystemBytes(device: string, fsType: string): Promise<number | undefined> {
  try {
    if (fsType === "ext4" || fsType === "ext3" || fsType === "ext2") {
      // ext superblock at byte 1024: s_blocks_count_lo @4, s_log_block_size @24, s_magic @56 (0xEF53),
      // s_feature_incompat @96 (0x80 = 64bit), s_blocks_count_hi @0x150.
      const sb = await readAt(device, 1024, 1024);
      if (sb.length < 0x154 || sb.readUInt16LE(56) !== 0xef53) return undefined;
      const blockSize = 1024 * 2 ** sb.readUInt32LE(24);
      const hi = sb.readUInt32LE(96) & 0x80 ? sb.readUInt32LE(0x150) : 0;
      return (hi * 2 ** 32 + sb.readUInt32LE(4)) * blockSize;
    }
    if (fsType === "xfs") {
      // xfs superblock at byte 0, big-endian: magic "XFSB", sb_blocksize @4, sb_dblocks @8.
      const sb = await readAt(device, 0, 16);
      if (sb.length < 16 || sb.toString("latin1", 0, 4) !== "XFSB") return undefined;
      return Number(sb.readBigUInt64BE(8)) * sb.readUInt32BE(4);
    }
  } catch {
    return undefined;
  }
  return undefined;
}
