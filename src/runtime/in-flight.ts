// Starts still under way when a runtime is told to stop. A stop that does not wait for
// them removes what exists and then watches the rest appear: containers created after
// the last sweep outlive the run. A runtime tracks each start here, and its stop waits
// for them (for a bounded time) before it removes anything.

export class InFlight {
  private readonly pending = new Set<Promise<unknown>>();

  /** Runs `work`, remembered until it settles either way. */
  track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(() => {}, () => {});
    this.pending.add(settled);
    void settled.then(() => this.pending.delete(settled));
    return work;
  }

  get size(): number {
    return this.pending.size;
  }

  /** Resolves once every tracked start has settled, or after `timeoutMs`: true if all settled. */
  async settle(timeoutMs: number): Promise<boolean> {
    if (this.pending.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const all = Promise.all([...this.pending]).then(() => true);
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([all, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
