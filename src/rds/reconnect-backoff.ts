// When to dial the RDS again. RouterOS's documented brute-force defence blacklists a source address
// after a few new SSH connections in a short time, so a session the appliance drops right after login
// (a session limit, a user without the right group, a firewall rule) must not be redialled several times
// a second for ever. Rules:
// - every failed attempt AND every session that ended before it had been up for `stableMs` counts as a
//   failure: the back-off grows (×2 per failure, capped at `capMs`);
// - only a session that stayed up for `stableMs` resets it (a successful handshake alone does not);
// - a session that dies young is never redialled sooner than `unstableFloorMs`;
// - every delay is jittered (uniform in the upper half of the window) so that replicas do not dial in step.

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** How long a session must stay up before the back-off resets. */
  stableMs: number;
  /** The smallest delay after a session that ended before stableMs. */
  unstableFloorMs: number;
}

export class ReconnectBackoff {
  readonly #o: BackoffOptions;
  readonly #random: () => number;
  #failures = 0;

  constructor(opts: BackoffOptions, random: () => number = Math.random) {
    this.#o = opts;
    this.#random = random;
  }

  /** Consecutive failures counted so far (failed dials and short-lived sessions). */
  get failures(): number {
    return this.#failures;
  }

  /** Delay before the next dial after a failed attempt. */
  afterFailedAttempt(): number {
    return this.#delay(this.#failures++);
  }

  /** Delay before redialling after a session that was up for `uptimeMs` ended. */
  afterSessionEnded(uptimeMs: number): number {
    if (uptimeMs >= this.#o.stableMs) {
      this.#failures = 0;
      return this.#delay(0);
    }
    return Math.max(this.#o.unstableFloorMs, this.#delay(this.#failures++));
  }

  #delay(failures: number): number {
    const window = Math.min(this.#o.capMs, this.#o.baseMs * 2 ** Math.min(failures, 30));
    return Math.round(window / 2 + (this.#random() * window) / 2);
  }
}
