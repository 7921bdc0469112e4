// Facts read straight from a filesystem's superblock on the device, with no tool spawn:
//  - its size, used at stage to notice a filesystem smaller than its device (a restore or clone at a
//    larger size, or a controller expansion while the volume was unstaged);
//  - ext2/3/4's needs_recovery flag, which decides whether the read-only fsck can judge the filesystem.
//  - ext2/3/4's state and error count, the fast health check (fsck.ts).
// `dumpe2fs -h` reads the same fields. The read is a small process with a deadline (device-read.ts):
// never on libuv's thread pool, where a read of a dead device would block a thread for good.
import { type DeviceReadOptions, readDeviceBytes } from "./device-read.ts";

export interface ExtSuperblock {
  bytes: number;
  /** s_feature_incompat has RECOVER (0x4): the journal holds transactions the kernel replays at mount. */
  needsRecovery: boolean;
  /** s_state lacks VALID (0x1) or has ERROR (0x2): not cleanly unmounted, or errors were detected. */
  cleanState: boolean;
  errorFlag: boolean;
  /** s_error_count: errors the kernel recorded while the filesystem was mounted. */
  errorCount: number;
}

export const isExt = (fsType: string): boolean => fsType === "ext4" || fsType === "ext3" || fsType === "ext2";

/** The ext2/3/4 primary superblock, or undefined when its magic is not there. Throws when unreadable. */
export async function readExtSuperblock(
  device: string,
  o: DeviceReadOptions = {},
): Promise<ExtSuperblock | undefined> {
  // At byte 1024, little-endian: s_blocks_count_lo @4, s_log_block_size @24, s_magic @56 (0xEF53),
  // s_state @58, s_feature_incompat @96 (0x4 = RECOVER, 0x80 = 64bit), s_blocks_count_hi @0x150,
  // s_error_count @0x194.
  const sb = await readDeviceBytes(device, 1024, 1024, o);
  if (sb.length < 0x198 || sb.readUInt16LE(56) !== 0xef53) return undefined;
  const incompat = sb.readUInt32LE(96);
  const state = sb.readUInt16LE(58);
  const blockSize = 1024 * 2 ** sb.readUInt32LE(24);
  const hi = incompat & 0x80 ? sb.readUInt32LE(0x150) : 0;
  return {
    bytes: (hi * 2 ** 32 + sb.readUInt32LE(4)) * blockSize,
    needsRecovery: (incompat & 0x4) !== 0,
    cleanState: (state & 0x1) !== 0,
    errorFlag: (state & 0x2) !== 0,
    errorCount: sb.readUInt32LE(0x194),
  };
}

/** Bytes the filesystem spans, or undefined when its superblock cannot be read or is not recognised. */
export async function filesystemBytes(
  device: string,
  fsType: string,
  o: DeviceReadOptions = {},
): Promise<number | undefined> {
  try {
    if (isExt(fsType)) return (await readExtSuperblock(device, o))?.bytes;
    if (fsType === "xfs") {
      // xfs superblock at byte 0, big-endian: magic "XFSB", sb_blocksize @4, sb_dblocks @8.
      const sb = await readDeviceBytes(device, 0, 16, o);
      if (sb.length < 16 || sb.toString("latin1", 0, 4) !== "XFSB") return undefined;
      return Number(sb.readBigUInt64BE(8)) * sb.readUInt32BE(4);
    }
  } catch {
    return undefined;
  }
  return undefined;
}
