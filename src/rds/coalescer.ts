// Merges concurrent requests of one kind into one exec while earlier ones are still running. A burst of
// CreateVolume calls each needs the same kind of read (its slot, its image's place, the pool); one
// `print ... where slot="a" or slot="b" ...` costs the appliance one command whatever the number of
// slots, while one exec per call holds a channel each and the channel cap (4) then serialises the burst.
//
// Nothing waits when nothing is running: a request is sent at once while fewer than `maxInFlight` of its
// kind are in flight, so a lone call pays no extra latency. Otherwise it queues, and when one in flight
// finishes, everything queued (up to `maxBatch`) goes out together. Only reads are merged: a read has no
// effect, so one merged exec is exactly the reads it holds, and a failure (a dropped connection) fails
// each call in it as it would have failed alone.
export interface CoalescerOptions {
  maxInFlight: number;
  maxBatch: number;
}

interface Pending<Req, Res> {
  req: Req;
  resolve(res: Res): void;
  reject(err: unknown): void;
}

export class Coalescer<Req, Res> {
  readonly #run: (reqs: Req[]) => Promise<Res[]>;
  readonly #opts: CoalescerOptions;
  readonly #queue: Pending<Req, Res>[] = [];
  #inFlight = 0;

  /** `run` answers a batch of requests, in order. */
  constructor(run: (reqs: Req[]) => Promise<Res[]>, opts: CoalescerOptions) {
    if (opts.maxInFlight < 1 || opts.maxBatch < 1) throw new Error("Coalescer limits must be at least 1");
    this.#run = run;
    this.#opts = opts;
  }

  /** Requests waiting for an earlier batch to finish. */
  get queued(): number {
    return this.#queue.length;
  }

  request(req: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.#queue.push({ req, resolve, reject });
      if (this.#inFlight < this.#opts.maxInFlight) this.#dispatch();
    });
  }

  #dispatch(): void {
    const batch = this.#queue.splice(0, this.#opts.maxBatch);
    if (batch.length === 0) return;
    this.#inFlight++;
    let answers: Promise<Res[]>;
    try {
      answers = this.#run(batch.map((p) => p.req));
    } catch (err) {
      answers = Promise.reject(err);
    }
    answers
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
        if (this.#queue.length > 0) this.#dispatch();
      });
  }
}
