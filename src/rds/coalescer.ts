// Merges concurrent requests of one kind into one exec while earlier ones are still running. A burst of
// CreateVolume calls each needs the same kind of read (its slot, its image's place, the pool); one
// `print ... where slot="a" or slot="b" ...` costs the appliance one command whatever the number of
// slots, while one exec per call holds a channel each and the channel cap (4) then serialises the burst.
//
// Nothing waits for a batch to fill: a request is sent in the same turn of the event loop while fewer than
// `maxInFlight` of its kind are in flight, so a lone call pays no extra round trip. Otherwise it queues,
// and when one in flight finishes, what is queued (up to `maxBatch`) goes out together. Only reads are merged: a read has no
// effect, so one merged exec is exactly the reads it holds, and a failure (a dropped connection) fails
// each call in it as it would have failed alone. Writes that are merged (`/disk add`, client.ts) sort out
// in their `run` which of them ran, which failed and which never ran.
export interface CoalescerOptions {
  maxInFlight: number;
  maxBatch: number;
  /**
   * Spread what is queued evenly over the free slots (for requests whose cost grows with their number,
   * like `/disk add`s that run one after another), instead of one batch (for reads, which cost one
   * command whatever their number).
   */
  spread?: boolean;
  /**
   * What to let finish before sending a request that finds nothing of its kind in flight: the lookups in
   * flight (`settled()` of the read coalescer), when the requests of this kind follow from them. In a
   * burst of CreateVolume the first lookup often goes alone and the rest merged just after; without the
   * wait its add would go out alone and the burst's other adds, a moment later, would find a channel
   * short. Waiting costs at most that lookup (bounded by `waitForMaxMs`); with no lookup in flight, nothing.
   */
  waitFor?: () => Promise<void> | undefined;
  waitForMaxMs?: number;
}

interface Pending<Req, Res> {
  req: Req;
  resolve(res: Res | Promise<Res>): void;
  reject(err: unknown): void;
}

export class Coalescer<Req, Res> {
  readonly #run: (reqs: Req[]) => Promise<Array<Res | Promise<Res>>>;
  readonly #opts: CoalescerOptions;
  readonly #queue: Pending<Req, Res>[] = [];
  #inFlight = 0;
  /** The batches in flight, each settled (answered or failed) before its callers hear of it. */
  readonly #running = new Set<Promise<void>>();
  #flushScheduled = false;

  /** `run` answers a batch of requests, in order; an answer may be a promise (a request sent again). */
  constructor(run: (reqs: Req[]) => Promise<Array<Res | Promise<Res>>>, opts: CoalescerOptions) {
    if (opts.maxInFlight < 1 || opts.maxBatch < 1) throw new Error("Coalescer limits must be at least 1");
    this.#run = run;
    this.#opts = opts;
  }

  /** Requests waiting for an earlier batch to finish. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Resolves when every batch in flight now has been answered; undefined when none is in flight. */
  settled(): Promise<void> | undefined {
    if (this.#running.size === 0) return undefined;
    return Promise.all(this.#running).then(() => {});
  }

  request(req: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.#queue.push({ req, resolve, reject });
      if (this.#inFlight < this.#opts.maxInFlight && !this.#flushScheduled) {
        this.#flushScheduled = true;
        // Requests made in the same turn of the event loop (the RPCs a merged read just answered) are
        // spread over the free slots together, instead of the first ones taking every slot alone.
        const flush = () =>
          setImmediate(() => {
            this.#flushScheduled = false;
            this.#flush();
          });
        const gate = this.#opts.waitFor?.();
        if (gate) void bounded(gate, this.#opts.waitForMaxMs ?? 1000).then(flush);
        else flush();
      }
    });
  }

  /** Sends what is queued: in one batch, or split evenly over the free slots (at most maxBatch each). */
  #flush(): void {
    let free = this.#opts.maxInFlight - this.#inFlight;
    while (free > 0 && this.#queue.length > 0) {
      const share = this.#opts.spread ? Math.ceil(this.#queue.length / free) : this.#queue.length;
      this.#dispatch(Math.min(this.#opts.maxBatch, share));
      free--;
    }
  }

  #dispatch(size: number): void {
    const batch = this.#queue.splice(0, size);
    if (batch.length === 0) return;
    this.#inFlight++;
    let answers: Promise<Array<Res | Promise<Res>>>;
    try {
      answers = this.#run(batch.map((p) => p.req));
    } catch (err) {
      answers = Promise.reject(err);
    }
    // Out of `#running` before any caller hears: what a caller asks next does not wait for its own answer.
    const running: Promise<void> = answers.then(
      () => void this.#running.delete(running),
      () => void this.#running.delete(running),
    );
    this.#running.add(running);
    running
      .then(() => answers)
      .then(
        (res) => {
          if (res.length !== batch.length)
            throw new Error(`coalesced batch answered ${res.length} of ${batch.length}`);
          for (const [i, p] of batch.entries()) p.resolve(res[i]!);
        },
        (err) => {
          for (const p of batch) p.reject(err);
        },
      )
      .catch((err) => {
        for (const p of batch) p.reject(err);
      })
      .finally(() => {
        this.#inFlight--;
        this.#flush();
      });
  }
}

/** `p`, or nothing once `ms` have passed: a wait that must not become a hang. */
function bounded(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((done) => {
    timer = setTimeout(done, ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
