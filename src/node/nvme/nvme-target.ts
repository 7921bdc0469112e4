// NVMe/TCP target facts from the publish context, validated before anything reaches a command line,
// and the `nvme connect` argument list built from them.
import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import { invalidArgument, unavailable } from "../../csi/errors.ts";
import { decodeNvmeConnection } from "../../csi/volume-context.ts";
import type { NvmeTcpTarget } from "./transport.ts";

/**
 * Connection defaults when the StorageClass sets nothing.
 *
 * ctrl-loss-tmo 1800 s (capped at connect, see MAX_SESSION_LOSS_S below): how long the kernel keeps reconnecting (with I/O queued, not failed) after the
 * RDS becomes unreachable. The kernel default of 600 s is too short for an appliance reboot or a
 * RouterOS upgrade plus a switch reload: past it the controller is deleted for good, filesystems go
 * read-only and VMs see I/O errors (openebs#3108, democratic-csi#193). -1 (forever) rides out anything,
 * but a target that never comes back then leaves unmount, pod deletion and node shutdown hanging in
 * D state (mayastor-control-plane#371). Thirty minutes covers planned maintenance of the appliance and
 * still lets a dead one fail cleanly. StorageClasses for VMs that must never see an error can set
 * `ctrlLossTmo: "-1"`.
 *
 * reconnect-delay 5 s: the kernel default is 10 s; a reconnect is one TCP handshake, so halving the
 * gap after the RDS returns is cheap. keep-alive-tmo and nr-io-queues: kernel defaults (5 s; one queue
 * per CPU) unless the StorageClass says otherwise.
 */
export const NVME_DEFAULTS = { port: 4420, ctrlLossTmo: 1800, reconnectDelay: 5 } as const;

/**
 * How long a session may be away from its target before it is over (issue 13 item 1): fast_io_fail_tmo
 * (queued I/O fails) and ctrl_loss_tmo (the kernel deletes the controller) are both capped at 120 s,
 * whatever the StorageClass asks (its ctrlLossTmo applies when smaller).
 *
 * Why both, and why together: a node whose volume was force-detached keeps its controller reconnecting
 * for ctrl_loss_tmo. If the volume is published to that node again meanwhile, the export admits its host
 * NQN again and the old controller reconnects by itself, before any NodeStage can intervene, and writes
 * whatever the old kernel still holds: the e2e suite saw the old ext4 superblock and journal state land
 * over the other node's data (scenario 10-fencing, with a long ctrl_loss_tmo). Past fast_io_fail_tmo the
 * old filesystem is dead anyway (its I/O failed, ext4 aborted its journal), so a reconnect can only do
 * harm; the controller goes at the same moment. 120 s rides out a switch reload or a quick target
 * restart, and is far below the ~6 minutes after which kubelet force-detaches a volume from a lost node
 * (after the pod eviction timeout), so a lost node's session is gone before another node can have the
 * volume. The price: an appliance outage longer than 2 minutes fails the volumes' I/O (filesystems go
 * read-only, VMs see I/O errors) and their pods must be restarted — never corrupted data.
 */
export const MAX_SESSION_LOSS_S = 120;

/** ctrl_loss_tmo as connected: the StorageClass's value, at most MAX_SESSION_LOSS_S (-1 = forever is capped too). */
export function ctrlLossTmo(t: NvmeTcpTarget): number {
  return t.ctrlLossTmo >= 0 ? Math.min(t.ctrlLossTmo, MAX_SESSION_LOSS_S) : MAX_SESSION_LOSS_S;
}

/** fast_io_fail_tmo: I/O fails when the controller would be deleted (see MAX_SESSION_LOSS_S). */
export const fastIoFailTmo = (t: NvmeTcpTarget): number => ctrlLossTmo(t);

export { validateNqn } from "../../csi/volume-context.ts";

// Printable NQN characters without the separators the kernel's option string uses (`,` and `=`).
const NQN_RE = /^[A-Za-z0-9._:-]+$/;

/** The publish context's connection facts (decoded by the contract module) with the node's defaults. */
export function parseNvmeTarget(ctx: Record<string, string>): NvmeTcpTarget {
  const c = decodeNvmeConnection(ctx);
  const target: NvmeTcpTarget = {
    kind: "nvme-tcp",
    nqn: c.nqn,
    address: c.address,
    port: c.port ?? NVME_DEFAULTS.port,
    ctrlLossTmo: c.ctrlLossTmo ?? NVME_DEFAULTS.ctrlLossTmo,
    reconnectDelay: c.reconnectDelay ?? NVME_DEFAULTS.reconnectDelay,
  };
  if (c.keepAliveTmo) target.keepAliveTmo = c.keepAliveTmo;
  if (c.nrIoQueues) target.nrIoQueues = c.nrIoQueues;
  return target;
}

/**
 * The target's address as the kernel needs it: numeric. A host name is resolved here, at every connect
 * (through the system resolver, so /etc/hosts and cluster DNS both work), never earlier: an appliance
 * that moves to another address behind the same name is found by the next connect.
 */
export async function resolveTargetAddress(
  address: string,
  lookup: (host: string) => Promise<{ address: string }> = (h) => dnsLookup(h),
): Promise<string> {
  if (isIP(address)) return address;
  let found: string;
  try {
    found = (await lookup(address)).address;
  } catch (e) {
    throw unavailable(
      `cannot resolve the NVMe/TCP target host ${JSON.stringify(address)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  if (!isIP(found))
    throw unavailable(
      `host ${JSON.stringify(address)} resolved to ${JSON.stringify(found)}, not an IP address`,
    );
  return found;
}

/**
 * `nvme connect` arguments. Long options with `=` so that `-1` is never mistaken for a flag; the same
 * spellings work in nvme-cli 1.x and 2.x.
 */
export function buildConnectArgs(t: NvmeTcpTarget, host: { hostNqn: string; hostId: string }): string[] {
  const args = [
    "connect",
    "--transport=tcp",
    `--traddr=${t.address}`,
    `--trsvcid=${t.port}`,
    `--nqn=${t.nqn}`,
    `--hostnqn=${host.hostNqn}`,
    `--hostid=${host.hostId}`,
    `--ctrl-loss-tmo=${ctrlLossTmo(t)}`,
    `--reconnect-delay=${t.reconnectDelay}`,
  ];
  if (t.keepAliveTmo !== undefined) args.push(`--keep-alive-tmo=${t.keepAliveTmo}`);
  if (t.nrIoQueues !== undefined) args.push(`--nr-io-queues=${t.nrIoQueues}`);
  return args;
}

/**
 * The same connection as an option string for /dev/nvme-fabrics (the kernel interface nvme-cli writes
 * to). Every value was validated by parseNvmeTarget (an NQN has no `,` or `=`) and the address resolved
 * by resolveTargetAddress.
 */
export function buildFabricsOptions(t: NvmeTcpTarget, host: { hostNqn: string; hostId: string }): string {
  if (!isIP(t.address))
    throw invalidArgument(`fabrics connect needs a numeric address, got ${JSON.stringify(t.address)}`);
  // The host identity comes from configuration (--host-nqn), not from parseNvmeTarget: check it here,
  // since a `,` would add options of its own to the string.
  if (!NQN_RE.test(host.hostNqn) || !/^[0-9A-Fa-f-]{36}$/.test(host.hostId))
    throw invalidArgument(
      `host NQN ${JSON.stringify(host.hostNqn)} or host id is not usable for a fabrics connect`,
    );
  const opts = [
    "transport=tcp",
    `traddr=${t.address}`,
    `trsvcid=${t.port}`,
    `nqn=${t.nqn}`,
    `hostnqn=${host.hostNqn}`,
    `hostid=${host.hostId}`,
    `ctrl_loss_tmo=${ctrlLossTmo(t)}`,
    `reconnect_delay=${t.reconnectDelay}`,
    `fast_io_fail_tmo=${fastIoFailTmo(t)}`,
  ];
  if (t.keepAliveTmo !== undefined) opts.push(`keep_alive_tmo=${t.keepAliveTmo}`);
  if (t.nrIoQueues !== undefined) opts.push(`nr_io_queues=${t.nrIoQueues}`);
  return opts.join(",");
}
