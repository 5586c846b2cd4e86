// One request's retries, as Envoy's RetryStateImpl: how many are left, whether an
// outcome is retried (the one rule in policy/retry.ts), the cluster's retry circuit
// breaker (maxRetries in flight), and the backoff before the next try.

import type { RetryPolicy } from '../../policy/config.js';
import { unit } from '../../policy/decide.js';
import { backoffMs, retryDecision } from '../../policy/retry.js';
import type { Cluster } from '../cluster.js';
import type { Outcome } from '../stream.js';

/** Envoy's RetryStatus: retry, or why not (a limit hit sets URX, a full budget UO). */
export type RetryStatus = 'retry' | 'no' | 'limit-exceeded' | 'overflow';

export class RetryState {
  private retriesDone = 0;
  private holding = 0;

  constructor(
    private readonly policy: RetryPolicy,
    private readonly cluster: Cluster,
    private readonly seed: number,
    private readonly key: string,
  ) {}

  /** Tries allowed in all: the first and `attempts` retries. */
  get maxTries(): number {
    return 1 + Math.max(0, this.policy.attempts);
  }

  /** Would Envoy retry this outcome, with tries left? Overall timeouts are never retried. */
  shouldRetry(outcome: Outcome): RetryStatus {
    if (this.policy.attempts <= 0 || outcome.kind === 'overall-timeout') return 'no';
    if (!retryDecision(outcome, this.policy)) return 'no';
    if (this.retriesDone >= this.policy.attempts) return 'limit-exceeded';
    if (this.cluster.retriesInFlight >= this.cluster.trafficPolicy.connectionPool.maxRetries) return 'overflow';
    return 'retry';
  }

  /** A retry is about to go: it holds one place in the cluster's retry budget until released. */
  beginRetry(): number {
    this.retriesDone++;
    this.holding++;
    this.cluster.retriesInFlight++;
    return backoffMs(this.retriesDone, unit(this.seed, 'backoff', this.key, String(this.retriesDone)), this.policy.backoffMs);
  }

  get retried(): boolean {
    return this.retriesDone > 0;
  }

  /** Whether the last outcome was one these retries cover: a final failure then says URX. */
  exhaustedOn(outcome: Outcome): boolean {
    return this.shouldRetry(outcome) === 'limit-exceeded';
  }

  release(): void {
    this.cluster.retriesInFlight -= this.holding;
    this.holding = 0;
  }

  /** Whether tries should avoid hosts already tried. */
  get avoidTried(): boolean {
    return this.policy.ignorePreviousHosts;
  }
}
