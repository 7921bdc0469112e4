// Facts read straight from a filesystem's superblock on the device, with no tool spawn:
//  - its size, used at stage to notice a filesystem smaller than its device (a restore or clone at a
//    larger size, or a controller expansion while the volume was unstaged);
//  - ext2/3/4's needs_recovery flag, which decides whether the read-only fsck can judge the filesystem.
// `dumpe2fs -h` reads the same fields; reading 1 KiB here costs ~0.1 ms instead of a ~3 ms process.
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

export interface ExtSuperblock {
  bytes: number;
  /** s_feature_incompat has RECOVER (0x4): the journal holds transactions the kernel replays at mount. */
  needsRecovery: boolean;
}

export const isExt = (fsType: string): boolean => fsType === "ext4" || fsType === "ext3" || fsType === "ext2";

/** The ext2/3/4 primary superblock, or undefined when its magic is not there. Throws when unreadable. */
export async function readExtSuperblock(device: string): Promise<ExtSuperblock | undefined> {
  // At byte 1024, little-endian: s_blocks_count_lo @4, s_log_block_size @24, s_magic @56 (0xEF53),
  // s_feature_incompat @96 (0x4 = RECOVER, 0x80 = 64bit), s_blocks_count_hi @0x150.
  const sb = await readAt(device, 1024, 1024);
  if (sb.length < 0x154 || sb.readUInt16LE(56) !== 0xef53) return undefined;
  const incompat = sb.readUInt32LE(96);
  const blockSize = 1024 * 2 ** sb.readUInt32LE(24);
  const hi = incompat & 0x80 ? sb.readUInt32LE(0x150) : 0;
  return { bytes: (hi * 2 ** 32 + sb.readUInt32LE(4)) * blockSize, needsRecovery: (incompat & 0x4) !== 0 };
}

/** Bytes the filesystem spans, or undefined when its superblock cannot be read or is not recognised. */
export async function filesystemBytes(device: string, fsType: string): Promise<number | undefined> {
  try {
    if (isExt(fsType)) return (await readExtSuperblock(device))?.bytes;
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
