// Who may connect to an export. Host NQNs are derived from node ids (src/node/nvme/host-nqn.ts), so the
// controller can name them. An export nobody is attached to must admit nobody, but an empty
// `nvme-tcp-server-allow-host-name` means "any host": a placeholder host NQN that no node ever uses
// stands in for "none".
import { deriveHostNqn } from "../node/nvme/host-nqn.ts";
import type { Attachment } from "./volume-record.ts";

export function noHostNqn(nqnPrefix: string): string {
  return `${nqnPrefix}:no-host`;
}

export function allowedHostsFor(
  attachments: readonly Attachment[],
  opts: { driverName: string; nqnPrefix: string },
): string[] {
  if (attachments.length === 0) return [noHostNqn(opts.nqnPrefix)];
  return [...new Set(attachments.map((a) => deriveHostNqn(a.node, opts.driverName)))];
}
