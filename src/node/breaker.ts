// One circuit breaker per volume around stage/publish (opossum). A volume whose device keeps failing
// (target down, corrupt filesystem, unreadable device) stops costing an nvme connect, a probe and an
// fsck on every kubelet retry: after repeated failures the breaker opens and calls fail fast with
// UNAVAILABLE, naming the last error and when the next attempt is allowed. After the cool-down one call
// goes through (half-open); success closes the breaker, failure opens it again.
// Business errors (bad request, not found, incompatible, busy) say nothing about the device and do not
// count. Breakers of unstaged or idle volumes are removed, so a long-running node does not leak them.
import { EventEmitter } from "node:events";
import CircuitBreaker from "opossum";
import { Code, CsiError, unavailable } from "../csi/errors.ts";
import type { Logger } from "../observability/logger.ts";
import { metrics } from "../observability/metrics.ts";

export interface BreakerSettings {
  /** Calls within the rolling window before the breaker may open (default 3). */
  volumeThreshold?: number;
  /** Failure percentage within the window that opens it (default 50: more than half failed). */
  errorThresholdPercentage?: number;
  /** Cool-down before a half-open trial call (default 60 s). */
  resetTimeoutMs?: number;
  /** Rolling statistics window (default 5 min, about kubelet's retry back-off cycle). */
  rollingWindowMs?: number;
  /** A closed breaker unused this long is dropped (default 15 min). */
  idleMs?: number;
}

export type BreakerStateName = "closed" | "halfOpen" | "open";

export interface BreakerEvent {
  volumeId: string;
  state: BreakerStateName;
}

const NOT_COUNTED = new Set<number>([
  Code.INVALID_ARGUMENT,
  Code.NOT_FOUND,
  Code.ALREADY_EXISTS,
  Code.ABORTED,
  Code.CANCELLED,
]);

/** Errors that are the caller's problem, not the device's. */
export function isBusinessError(err: unknown): boolean {
  if (err instanceof CsiError) return NOT_COUNTED.has(err.code);
  return err instanceof Error && err.name === "AbortError";
}

type Action = () => Promise<unknown>;

interface Entry {
  breaker: CircuitBreaker<[Action], unknown>;
  lastError?: string;
  openedAt?: number;
  lastUsed: number;
}

const STATE_VALUE: Record<BreakerStateName, number> = { closed: 0, halfOpen: 1, open: 2 };

export class VolumeBreakers {
  readonly events = new EventEmitter<{ state: [BreakerEvent] }>();
  readonly #entries = new Map<string, Entry>();
  readonly #s: Required<BreakerSettings>;
  readonly #log: Logger;
  readonly #sweeper: NodeJS.Timeout;

  constructor(settings: BreakerSettings, log: Logger) {
    this.#s = {
      volumeThreshold: 3,
      errorThresholdPercentage: 50,
      resetTimeoutMs: 60_000,
      rollingWindowMs: 5 * 60_000,
      idleMs: 15 * 60_000,
      ...settings,
    };
    this.#log = log;
    this.#sweeper = setInterval(() => this.sweep(), Math.min(this.#s.idleMs, 60_000));
    this.#sweeper.unref();
  }

  #entry(volumeId: string): Entry {
    let e = this.#entries.get(volumeId);
    if (e) return e;
    const breaker = new CircuitBreaker<[Action], unknown>((fn: Action) => fn(), {
      timeout: false, // operations carry their own timeouts; a breaker timeout would not stop them
      volumeThreshold: this.#s.volumeThreshold,
      errorThresholdPercentage: this.#s.errorThresholdPercentage,
      resetTimeout: this.#s.resetTimeoutMs,
      rollingCountTimeout: this.#s.rollingWindowMs,
      rollingCountBuckets: 10,
      errorFilter: isBusinessError,
      name: volumeId,
    });
    const entry: Entry = { breaker, lastUsed: Date.now() };
    const log = this.#log.child({ volumeId, component: "breaker" });
    breaker.on("failure", (err: unknown) => {
      entry.lastError = err instanceof Error ? err.message : String(err);
    });
    breaker.on("open", () => {
      entry.openedAt = Date.now();
      log.warn(
        {
          lastError: entry.lastError,
          retryAt: new Date(entry.openedAt + this.#s.resetTimeoutMs).toISOString(),
        },
        "circuit breaker opened",
      );
      this.#emit(volumeId, "open");
    });
    breaker.on("halfOpen", () => {
      log.info("circuit breaker half-open: the next call is a trial");
      this.#emit(volumeId, "halfOpen");
    });
    breaker.on("close", () => {
      log.info("circuit breaker closed");
      this.#emit(volumeId, "closed");
    });
    this.#entries.set(volumeId, entry);
    metrics.breakerState.set({ volume_id: volumeId }, 0);
    e = entry;
    return e;
  }

  #emit(volumeId: string, state: BreakerStateName): void {
    metrics.breakerState.set({ volume_id: volumeId }, STATE_VALUE[state]);
    this.events.emit("state", { volumeId, state });
  }

  /** Runs fn through the volume's breaker; an open breaker fails fast with UNAVAILABLE. */
  async run<T>(volumeId: string, fn: () => Promise<T>): Promise<T> {
    const e = this.#entry(volumeId);
    e.lastUsed = Date.now();
    try {
      return (await e.breaker.fire(fn)) as T;
    } catch (err) {
      if ((err as { code?: string }).code === "EOPENBREAKER") throw this.#openError(volumeId, e);
      throw err;
    }
  }

  #openError(volumeId: string, e: Entry): CsiError {
    const stats = e.breaker.stats;
    if (e.breaker.halfOpen)
      return unavailable(
        `volume ${volumeId}: circuit breaker is half-open and a trial attempt is running; last error: ${e.lastError ?? "unknown"}`,
      );
    const retryAt = (e.openedAt ?? Date.now()) + this.#s.resetTimeoutMs;
    const inS = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
    return unavailable(
      `volume ${volumeId}: circuit breaker open after ${stats.failures} failed attempts, failing fast; ` +
        `last error: ${e.lastError ?? "unknown"}; next attempt allowed at ${new Date(retryAt).toISOString()} (in ${inS} s)`,
    );
  }

  state(volumeId: string): BreakerStateName | undefined {
    const e = this.#entries.get(volumeId);
    if (!e) return undefined;
    return e.breaker.opened ? "open" : e.breaker.halfOpen ? "halfOpen" : "closed";
  }

  get size(): number {
    return this.#entries.size;
  }

  remove(volumeId: string): void {
    const e = this.#entries.get(volumeId);
    if (!e) return;
    e.breaker.shutdown();
    e.breaker.removeAllListeners();
    this.#entries.delete(volumeId);
    metrics.breakerState.remove({ volume_id: volumeId });
  }

  /** Drops breakers that are not open and were not used for idleMs. */
  sweep(now = Date.now()): void {
    for (const [id, e] of this.#entries)
      if (!e.breaker.opened && now - e.lastUsed >= this.#s.idleMs) this.remove(id);
  }

  close(): void {
    clearInterval(this.#sweeper);
    for (const id of [...this.#entries.keys()]) this.remove(id);
    this.events.removeAllListeners();
  }
}
