// Envoy's HTTP/1.1 circuit breakers for one cluster: at most maxConnections requests
// in flight (one per connection), at most http1MaxPendingRequests waiting for one, at
// most maxRequests (http2MaxRequests) in flight at all; anything more overflows at once
// (503, flag UO) instead of queueing without end.

export type Admission = 'now' | 'queued' | 'overflow';

export interface Grant {
  admission: Admission;
  granted: Promise<void>;
  cancel: () => void;
}

// Shared answers for the common cases: nothing to allocate per request.
const RESOLVED = Promise.resolve();
const NOW: Grant = { admission: 'now', granted: RESOLVED, cancel: () => {} };
const OVERFLOW: Grant = { admission: 'overflow', granted: RESOLVED, cancel: () => {} };

export class ConnectionPool {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private maxConnections: number,
    private maxPending: number,
    private maxRequests = Number.MAX_SAFE_INTEGER,
  ) {}

  /** New limits apply to the next request; those already admitted keep their place. */
  resize(maxConnections: number, maxPending: number, maxRequests = Number.MAX_SAFE_INTEGER): void {
    this.maxConnections = maxConnections;
    this.maxPending = maxPending;
    this.maxRequests = maxRequests;
    while (this.active < this.maxConnections && this.waiting.length > 0) {
      this.active++;
      this.waiting.shift()!();
    }
  }

  /**
   * Asks for a connection. `granted` resolves when the request may go: at once,
   * or when one frees up. Overflow grants nothing.
   */
  acquire(): Grant {
    if (this.active >= this.maxRequests) return OVERFLOW;
    if (this.active < this.maxConnections) {
      this.active++;
      return NOW;
    }
    if (this.waiting.length >= this.maxPending) return OVERFLOW;
    let grant!: () => void;
    const granted = new Promise<void>((resolve) => (grant = resolve));
    this.waiting.push(grant);
    // A request that gives up while waiting (its timeout fired) leaves the queue.
    const cancel = () => {
      const i = this.waiting.indexOf(grant);
      if (i !== -1) this.waiting.splice(i, 1);
    };
    return { admission: 'queued', granted, cancel };
  }

  /** Gives a finished request's connection to the next waiter, if any. */
  release(): void {
    const next = this.waiting.shift();
    if (next && this.active <= this.maxConnections) next();
    else this.active = Math.max(0, this.active - 1);
  }

  get inFlight(): number {
    return this.active;
  }

  get pending(): number {
    return this.waiting.length;
  }
}
