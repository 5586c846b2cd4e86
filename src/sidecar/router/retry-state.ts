// One request's retries, as Envoy's RetryStateImpl: how many are left, whether an
// outcome is retried (the one rule in policy/retry.ts), the cluster's retry circuit
// breaker (maxRetries), and the backoff before the next try. A retry holds a place in
// the cluster's budget from the moment it is decided until its own outcome is known.

import type { RetryPolicy } from '../../policy/config.js';
import { unit } from '../../policy/decide.js';
import { backoffMs, retryDecision } from '../../policy/retry.js';
import type { Cluster } from '../cluster.js';
import type { Outcome } from '../stream.js';

/** Envoy's RetryStatus: retry, or why not (a limit hit sets URX, a full budget UO). */
export type RetryStatus = 'retry' | 'no' | 'limit-exceeded' | 'overflow';

export class RetryState {
  private retriesLeft: number;
  private retriesDone = 0;
  private holding = false;

  constructor(
    private readonly policy: RetryPolicy,
    private readonly cluster: Cluster,
    private readonly seed: number,
    private readonly key: string,
  ) {
    this.retriesLeft = Math.max(0, policy.attempts);
  }

  /** Tries allowed in all: the first and `attempts` retries. */
  get maxTries(): number {
    return 1 + Math.max(0, this.policy.attempts);
  }

  /** An attempt's outcome is in: retry it, or say why not. The previous retry's place in the budget is given back. */
  shouldRetry(outcome: Outcome): RetryStatus {
    this.release();
    if (this.policy.attempts <= 0 || outcome.kind === 'overall-timeout') return 'no';
    if (!retryDecision(outcome, this.policy)) return 'no';
    if (this.retriesLeft === 0) return 'limit-exceeded';
    this.retriesLeft--;
    if (this.cluster.retriesInFlight >= this.cluster.trafficPolicy.connectionPool.maxRetries) return 'overflow';
    this.holding = true;
    this.cluster.retriesInFlight++;
    this.retriesDone++;
    return 'retry';
  }

  /** The pause before the retry just decided: full jitter under a ceiling that doubles, drawn from the seed. */
  backoff(): number {
    return backoffMs(this.retriesDone, unit(this.seed, 'backoff', this.key, String(this.retriesDone)), this.policy.backoffMs);
  }

  get retried(): boolean {
    return this.retriesDone > 0;
  }

  /** The request is over (or its retry's outcome is in): the budget's place goes back. */
  release(): void {
    if (!this.holding) return;
    this.holding = false;
    this.cluster.retriesInFlight--;
  }

  /** Whether tries should avoid hosts already tried. */
  get avoidTried(): boolean {
    return this.policy.ignorePreviousHosts;
  }
}
