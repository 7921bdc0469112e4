// Stale attachments: one lost ControllerUnpublish (a VolumeAttachment whose finalizer was removed by
// hand, an attacher that died at the wrong moment) leaves an attachment in a volume's record for ever:
// DeleteVolume then fails and single-node publishes elsewhere are refused. In a cluster the
// VolumeAttachment objects say which attachments the cluster still means to have, so this compares them,
// at start and periodically, and releases what no VolumeAttachment backs, with an Event.
//
// Safety:
// - records are read BEFORE the VolumeAttachments: an attachment in a record was published after its
//   VolumeAttachment was created, so it is in the later list unless it was deleted meanwhile;
// - an attachment must be missing in two passes in a row (an interval apart) before it is released;
// - the release names the generation that was seen (a node published again meanwhile keeps its new
//   attachment) and is a compare-and-set write like every other (volume-store.ts);
// - only volumes recorded by this instance are looked at (another cluster on the same RDS has its own
//   VolumeAttachments).
import type { EventRecorder } from "../observability/events.ts";
import type { Logger } from "../observability/logger.ts";
import type { ControllerContext } from "./context.ts";
import { releaseAttachments } from "./publish.ts";
import { type VolumeAttachmentLister, volumeAttachmentName } from "./volume-attachments.ts";
import { listVolumes } from "./volume-store.ts";

export const STALE_ATTACHMENT_REASON = "StaleAttachmentReleased";

export interface ReconcilerOptions {
  intervalMs: number;
  /** Passes an attachment must be missing in before it is released (default 2). */
  passes?: number;
  events?: EventRecorder;
  log: Logger;
}

export interface Released {
  volume: string;
  node: string;
  generation: number;
}

export class AttachmentReconciler {
  readonly #c: ControllerContext;
  readonly #lister: VolumeAttachmentLister;
  readonly #o: Required<Omit<ReconcilerOptions, "events">> & Pick<ReconcilerOptions, "events">;
  /** `volume\0node\0generation` → consecutive passes it was missing in. */
  #missing = new Map<string, number>();
  #timer?: NodeJS.Timeout;
  #running?: Promise<Released[]>;

  constructor(c: ControllerContext, lister: VolumeAttachmentLister, opts: ReconcilerOptions) {
    this.#c = c;
    this.#lister = lister;
    this.#o = { passes: 2, ...opts };
  }

  /** One comparison; overlapping calls share the pass in progress. */
  runOnce(): Promise<Released[]> {
    this.#running ??= this.#pass().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** A pass now and then every interval; errors are logged, the next pass tries again. */
  start(): void {
    const tick = () =>
      this.runOnce().catch((err: Error) =>
        this.#o.log.warn({ err: err.message }, "attachment reconciliation failed; will retry"),
      );
    void tick();
    this.#timer = setInterval(tick, this.#o.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #pass(): Promise<Released[]> {
    const c = this.#c;
    const driver = c.opts.driverName;
    const volumes = (await listVolumes(c)).filter((v) => v.record.instance === c.instance);
    const recorded = volumes.flatMap((v) =>
      v.record.attachments.map((a) => ({ volume: v.disk.slot, node: a.node, generation: a.generation })),
    );
    if (recorded.length === 0) {
      this.#missing.clear();
      return [];
    }
    const vas = (await this.#lister.list()).filter((va) => va.attacher === driver);
    const names = new Set(vas.map((va) => va.name));
    const byPv = new Set(vas.map((va) => `${va.pvName ?? ""}\0${va.nodeName}`));
    const missing = new Map<string, number>();
    const released: Released[] = [];
    for (const r of recorded) {
      const backed =
        names.has(volumeAttachmentName(r.volume, driver, r.node)) || byPv.has(`${r.volume}\0${r.node}`);
      if (backed) continue;
      const key = `${r.volume}\0${r.node}\0${r.generation}`;
      const count = (this.#missing.get(key) ?? 0) + 1;
      if (count < this.#o.passes) {
        missing.set(key, count);
        continue;
      }
      const gone = await releaseAttachments(c, r.volume, { node: r.node, generation: r.generation }).catch(
        (err: Error) => {
          this.#o.log.warn(
            { volume: r.volume, node: r.node, err: err.message },
            "could not release a stale attachment",
          );
          missing.set(key, count); // try again next pass
          return [] as string[];
        },
      );
      if (gone.length === 0) continue;
      released.push(r);
      const message = `released the attachment of volume ${r.volume} to node ${r.node} (generation ${r.generation}): no VolumeAttachment of ${driver} backs it any more (a lost ControllerUnpublishVolume)`;
      this.#o.log.warn({ volume: r.volume, node: r.node, generation: r.generation }, message);
      this.#o.events?.record({
        type: "Warning",
        reason: STALE_ATTACHMENT_REASON,
        message,
        targets: [
          { kind: "volume", volumeId: r.volume },
          { kind: "node", name: r.node },
        ],
      });
    }
    this.#missing = missing;
    return released;
  }
}
