// Per-key non-blocking lock. CSI wants a second concurrent call on the same volume to fail fast with
// ABORTED (the CO retries with back-off) instead of queueing behind a possibly long operation.
export class KeyedLock {
  readonly #held = new Set<string>();

  /** Runs fn while holding every key, or returns `busy` naming the first key already held. */
  async tryWith<T>(
    keys: readonly string[],
    fn: () => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false; busy: string }> {
    const unique = [...new Set(keys)];
    const busy = unique.find((k) => this.#held.has(k));
    if (busy !== undefined) return { ok: false, busy };
    for (const k of unique) this.#held.add(k);
    try {
      return { ok: true, value: await fn() };
    } finally {
      for (const k of unique) this.#held.delete(k);
    }
  }

  isHeld(key: string): boolean {
    return this.#held.has(key);
  }

  get size(): number {
    return this.#held.size;
  }
}
