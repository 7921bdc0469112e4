// Kubernetes Events for failures an operator has to act on (a full pool, a corrupt filesystem, a node
// without NVMe/TCP, an RDS whose host key changed). Logs are read by whoever already suspects the
// driver; an Event shows up in `kubectl describe pvc` where the user is looking.
//
// Recording is fire and forget: record() returns at once, never throws, and never delays the RPC that
// failed. Behind it: deduplication (one Event per object and reason per window, the way kubectl users
// expect a repeating failure to look), a token bucket against bursts, a bounded queue with a bounded
// number of requests in flight, and a timeout on every request. Where the Events go is a sink: the
// Kubernetes API (./kube-events.ts) in a cluster, the log outside one.
import type { Logger } from "./logger.ts";
import { metrics } from "./metrics.ts";

/** Something the Event is about, as the caller knows it; the sink resolves it to an API object. */
export type EventTarget =
  | { kind: "pvc"; namespace: string; name: string }
  /** A volume id: in Kubernetes the PV of that name, whose claimRef is the PVC. */
  | { kind: "volume"; volumeId: string }
  | { kind: "pod"; namespace: string; name: string; uid?: string }
  | { kind: "node"; name: string };

export interface OperatorEvent {
  type: "Normal" | "Warning";
  /** UpperCamelCase, e.g. PoolFull. */
  reason: string;
  message: string;
  /** Candidates, most specific first: the first that resolves is the Event's object. */
  targets: EventTarget[];
}

export interface EventRecorder {
  /** Queues the Event; returns at once and never throws. */
  record(event: OperatorEvent): void;
  /** Waits until queued Events are delivered or dropped, at most timeoutMs. */
  flush(timeoutMs?: number): Promise<void>;
  /** Stops accepting Events and flushes. */
  close(timeoutMs?: number): Promise<void>;
}

/** Delivers one Event; "unresolved" when none of its targets exists where the sink looks. */
export interface EventSink {
  deliver(event: OperatorEvent, signal: AbortSignal): Promise<"posted" | "logged" | "unresolved">;
}

export function targetKey(t: EventTarget): string {
  switch (t.kind) {
    case "pvc":
      return `pvc:${t.namespace}/${t.name}`;
    case "volume":
      return `volume:${t.volumeId}`;
    case "pod":
      return `pod:${t.namespace}/${t.name}`;
    case "node":
      return `node:${t.name}`;
  }
}

export interface ThrottleSettings {
  /** The same reason for the same first target is recorded at most once per window (default 10 min). */
  dedupWindowMs?: number;
  /** Token bucket: burst size (default 20) and one new token every refillMs (default 3 s). */
  burst?: number;
  refillMs?: number;
  /** Requests in flight at once (default 2) and Events waiting behind them (default 100). */
  maxInFlight?: number;
  maxQueued?: number;
  /** Budget of one delivery, including the object lookup (default 5 s). */
  deliveryTimeoutMs?: number;
  now?: () => number;
}

const MAX_MESSAGE = 1024;

export class ThrottledEventRecorder implements EventRecorder {
  readonly #sink: EventSink;
  readonly #log: Logger;
  readonly #s: Required<Omit<ThrottleSettings, "now">>;
  readonly #now: () => number;
  readonly #lastSent = new Map<string, number>();
  readonly #queue: Array<{ event: OperatorEvent; key: string }> = [];
  readonly #idle = new Set<() => void>();
  #inFlight = 0;
  #tokens: number;
  #tokensAt: number;
  #closed = false;

  constructor(sink: EventSink, log: Logger, settings: ThrottleSettings = {}) {
    this.#sink = sink;
    this.#log = log;
    this.#now = settings.now ?? Date.now;
    this.#s = {
      dedupWindowMs: 10 * 60_000,
      burst: 20,
      refillMs: 3000,
      maxInFlight: 2,
      maxQueued: 100,
      deliveryTimeoutMs: 5000,
      ...Object.fromEntries(Object.entries(settings).filter(([k, v]) => k !== "now" && v !== undefined)),
    };
    this.#tokens = this.#s.burst;
    this.#tokensAt = this.#now();
  }

  record(event: OperatorEvent): void {
    try {
      this.#admit(event);
    } catch (err) {
      // Recording must never break the caller, whatever the input.
      this.#log.warn({ err }, "could not record a Kubernetes Event");
    }
  }

  #admit(event: OperatorEvent): void {
    const result = this.#enqueue(event);
    if (result) metrics.eventsTotal.inc({ reason: event.reason, result });
  }

  /** Queues the Event, or says why not. */
  #enqueue(event: OperatorEvent): "dropped" | "deduplicated" | "rate_limited" | undefined {
    if (this.#closed || event.targets.length === 0) return "dropped";
    const now = this.#now();
    const key = `${event.reason}|${targetKey(event.targets[0] as EventTarget)}`;
    const last = this.#lastSent.get(key);
    if (last !== undefined && now - last < this.#s.dedupWindowMs) return "deduplicated";
    if (this.#queue.length >= this.#s.maxQueued) return "dropped";
    if (!this.#takeToken(now)) return "rate_limited";
    this.#lastSent.set(key, now);
    if (this.#lastSent.size > 10_000) this.#forgetOld(now);
    this.#queue.push({ event: { ...event, message: event.message.slice(0, MAX_MESSAGE) }, key });
    this.#pump();
    return undefined;
  }

  #takeToken(now: number): boolean {
    const refilled = Math.floor((now - this.#tokensAt) / this.#s.refillMs);
    if (refilled > 0) {
      this.#tokens = Math.min(this.#s.burst, this.#tokens + refilled);
      this.#tokensAt += refilled * this.#s.refillMs;
    }
    if (this.#tokens <= 0) return false;
    this.#tokens--;
    return true;
  }

  #forgetOld(now: number): void {
    for (const [k, t] of this.#lastSent) if (now - t >= this.#s.dedupWindowMs) this.#lastSent.delete(k);
  }

  #pump(): void {
    while (this.#inFlight < this.#s.maxInFlight && this.#queue.length > 0) {
      const { event, key } = this.#queue.shift() as { event: OperatorEvent; key: string };
      this.#inFlight++;
      void this.#deliver(event, key).finally(() => {
        this.#inFlight--;
        this.#pump();
        if (this.#inFlight === 0 && this.#queue.length === 0) for (const done of [...this.#idle]) done();
      });
    }
  }

  async #deliver(event: OperatorEvent, key: string): Promise<void> {
    const abort = new AbortController();
    const timer = setTimeout(
      () => abort.abort(new Error(`timed out after ${this.#s.deliveryTimeoutMs} ms`)),
      this.#s.deliveryTimeoutMs,
    );
    try {
      const result = await this.#sink.deliver(event, abort.signal);
      metrics.eventsTotal.inc({ reason: event.reason, result });
      if (result === "unresolved")
        this.#log.debug(
          { reason: event.reason, targets: event.targets.map(targetKey) },
          "no Kubernetes object for this Event",
        );
    } catch (err) {
      metrics.eventsTotal.inc({ reason: event.reason, result: "failed" });
      this.#lastSent.delete(key); // not delivered: the next occurrence may try again
      this.#log.warn(
        { err: (err as Error).message, reason: event.reason },
        "could not post a Kubernetes Event",
      );
    } finally {
      clearTimeout(timer);
    }
  }

  flush(timeoutMs = 10_000): Promise<void> {
    if (this.#inFlight === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#idle.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#idle.add(done);
    });
  }

  async close(timeoutMs?: number): Promise<void> {
    this.#closed = true;
    await this.flush(timeoutMs);
  }
}

/** Outside a cluster: the Event becomes a log line (warn for Warning), with the same throttling. */
export class LogEventSink implements EventSink {
  readonly #log: Logger;
  constructor(log: Logger) {
    this.#log = log;
  }
  async deliver(event: OperatorEvent): Promise<"logged"> {
    const fields = { event: event.reason, targets: event.targets.map(targetKey) };
    if (event.type === "Warning") this.#log.warn(fields, event.message);
    else this.#log.info(fields, event.message);
    return "logged";
  }
}

/** Reasons of the Events rds-csi posts (docs/metrics.md lists them with their objects). */
export const EventReason = {
  /** CreateVolume/ControllerExpandVolume: not enough free space on the pool. */
  poolFull: "PoolFull",
  /** The RDS presented another host key than the pinned one. */
  hostKeyMismatch: "RDSHostKeyMismatch",
  /** RouterOS refused a command: the SSH user's group lacks a policy. */
  permissionDenied: "RDSPermissionDenied",
  /** NodeStage: the read-only check found corruption; the volume was not mounted. */
  filesystemCorrupt: "FilesystemCorrupt",
  /** NodeStage: the device holds data that is not a filesystem; it was not formatted. */
  deviceNotEmpty: "DeviceNotEmpty",
  /** NodeStage: the device holds another filesystem than the one requested. */
  filesystemMismatch: "FilesystemMismatch",
  /** The node plugin cannot start: the kernel or the tools lack NVMe/TCP. */
  nvmeTcpUnavailable: "NVMeTCPUnavailable",
} as const;

// Errors that should become an Event carry their reason. A symbol property (not a subclass) so that any
// error type can be tagged where it is thrown without changing what it is.
const REASON = Symbol.for("rds-csi.event-reason");

/** Marks an error as one an operator must act on; returns the same error, for `throw tagEvent(...)`. */
export function tagEvent<E extends Error>(err: E, reason: string): E {
  (err as unknown as Record<symbol, string>)[REASON] = reason;
  return err;
}

export function eventReasonOf(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const r = (err as Record<symbol, unknown>)[REASON];
  return typeof r === "string" ? r : undefined;
}
