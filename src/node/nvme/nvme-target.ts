// NVMe/TCP target facts from the publish context, validated before anything reaches a command line,
// and the `nvme connect` argument list built from them.
import { isIP } from "node:net";
import { invalidArgument } from "../../csi/errors.ts";
import { PublishKey } from "../../csi/volume-context.ts";
import type { NvmeTcpTarget } from "./transport.ts";

/**
 * Connection defaults when the StorageClass sets nothing.
 *
 * ctrl-loss-tmo 1800 s: how long the kernel keeps reconnecting (with I/O queued, not failed) after the
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

// Printable NQN characters without the separators the kernel's option string uses (`,` and `=`).
const NQN_RE = /^[A-Za-z0-9._:-]+$/;
const NQN_MAX_BYTES = 223;

function intParam(ctx: Record<string, string>, key: string, min: number, max: number): number | undefined {
  const raw = ctx[key];
  if (raw === undefined || raw === "") return undefined;
  if (!/^-?\d+$/.test(raw)) throw invalidArgument(`${key} must be an integer, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw invalidArgument(`${key} must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function validateNqn(nqn: string, field = PublishKey.nqn): string {
  if (!nqn) throw invalidArgument(`${field} is required in the publish context`);
  if (Buffer.byteLength(nqn) > NQN_MAX_BYTES || !NQN_RE.test(nqn))
    throw invalidArgument(
      `${field} ${JSON.stringify(nqn)} is not a valid NQN (at most ${NQN_MAX_BYTES} bytes of [A-Za-z0-9._:-])`,
    );
  return nqn;
}

export function parseNvmeTarget(ctx: Record<string, string>): NvmeTcpTarget {
  const nqn = validateNqn(ctx[PublishKey.nqn] ?? "");
  const address = ctx[PublishKey.address] ?? "";
  // The kernel stores and compares numeric addresses; a host name would need resolving on every check.
  if (!isIP(address))
    throw invalidArgument(
      `${PublishKey.address} must be an IPv4 or IPv6 address, got ${JSON.stringify(address)}`,
    );
  const target: NvmeTcpTarget = {
    kind: "nvme-tcp",
    nqn,
    address,
    port: intParam(ctx, PublishKey.port, 1, 65535) ?? NVME_DEFAULTS.port,
    ctrlLossTmo: intParam(ctx, PublishKey.ctrlLossTmo, -1, 31_536_000) ?? NVME_DEFAULTS.ctrlLossTmo,
    reconnectDelay: intParam(ctx, PublishKey.reconnectDelay, 1, 3600) ?? NVME_DEFAULTS.reconnectDelay,
  };
  const kato = intParam(ctx, PublishKey.keepAliveTmo, 0, 3600);
  if (kato) target.keepAliveTmo = kato; // 0 = kernel default, like an absent key
  const queues = intParam(ctx, PublishKey.nrIoQueues, 0, 1024);
  if (queues) target.nrIoQueues = queues;
  return target;
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
    `--ctrl-loss-tmo=${t.ctrlLossTmo}`,
    `--reconnect-delay=${t.reconnectDelay}`,
  ];
  if (t.keepAliveTmo !== undefined) args.push(`--keep-alive-tmo=${t.keepAliveTmo}`);
  if (t.nrIoQueues !== undefined) args.push(`--nr-io-queues=${t.nrIoQueues}`);
  return args;
}

/**
 * The same connection as an option string for /dev/nvme-fabrics (the kernel interface nvme-cli writes
 * to). Every value was validated by parseNvmeTarget (an NQN has no `,` or `=`; the address is an IP).
 */
export function buildFabricsOptions(t: NvmeTcpTarget, host: { hostNqn: string; hostId: string }): string {
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
    `ctrl_loss_tmo=${t.ctrlLossTmo}`,
    `reconnect_delay=${t.reconnectDelay}`,
  ];
  if (t.keepAliveTmo !== undefined) opts.push(`keep_alive_tmo=${t.keepAliveTmo}`);
  if (t.nrIoQueues !== undefined) opts.push(`nr_io_queues=${t.nrIoQueues}`);
  return opts.join(",");
}
