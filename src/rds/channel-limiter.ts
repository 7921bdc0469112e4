// A FIFO counting semaphore for SSH exec channels: RouterOS limits sessions and is known to misbehave
// when many channels open at once, so at most `max` commands run on the connection and the rest wait in
// arrival order. A waiter whose signal aborts leaves the queue without taking a slot.

interface Waiter {
  grant: () => void;
}

export class ChannelLimiter {
  readonly max: number;
  #inUse = 0;
  readonly #queue: Waiter[] = [];
  readonly #onChange: () => void;

  constructor(max: number, onChange: () => void = () => {}) {
    if (!Number.isInteger(max) || max < 1)
      throw new Error(`maxChannels must be a positive integer, got ${max}`);
    this.max = max;
    this.#onChange = onChange;
  }

  get inUse(): number {
    return this.#inUse;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Resolves with a release function once a slot is free; rejects with the signal's reason on abort. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#inUse < this.max) {
      this.#inUse++;
      this.#onChange();
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.#queue.indexOf(waiter);
        if (i >= 0) this.#queue.splice(i, 1);
        this.#onChange();
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.#releaser());
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(waiter);
      this.#onChange();
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      if (next)
        next.grant(); // the slot passes straight to the next waiter: FIFO, no barging
      else this.#inUse--;
      this.#onChange();
    };
  }
}
