// The one retry rule: which outcomes of an attempt Envoy retries under a route's retry
// policy (x-envoy-retry-on conditions, as retry_state_impl.cc decides them), and how long
// it backs off between tries. The sidecar's router and `validate`'s warnings both ask here.

import type { RetryPolicy } from './config.js';

/** What one attempt at the upstream came to. */
export type AttemptOutcome =
  | { kind: 'response'; status: number; /** x-envoy-overloaded: an upstream circuit breaker refused it. */ overloaded?: boolean }
  | { kind: 'connect-failure' }
  /** The upstream closed or reset the connection before answering. */
  | { kind: 'reset' }
  | { kind: 'per-try-timeout' };

/** Would Envoy retry this outcome under `policy`, retries left permitting? */
export function retryDecision(outcome: AttemptOutcome, policy: Pick<RetryPolicy, 'retryOn' | 'statusCodes'>): boolean {
  const on = policy.retryOn;
  const anyReset = on.includes('reset') || on.includes('5xx') || on.includes('gateway-error');
  switch (outcome.kind) {
    case 'connect-failure':
      // A connection that never opened is a reset before the request was sent.
      return anyReset || on.includes('connect-failure') || on.includes('reset-before-request');
    case 'reset':
      return anyReset;
    case 'per-try-timeout':
      // Envoy resets the attempt locally, then asks the reset rule.
      return anyReset;
    case 'response': {
      // Envoy never retries an answer its peer's circuit breaker gave (x-envoy-overloaded).
      if (outcome.overloaded) return false;
      const s = outcome.status;
      if (s >= 500 && on.includes('5xx')) return true;
      if (s >= 502 && s <= 504 && on.includes('gateway-error')) return true;
      if (s === 409 && on.includes('retriable-4xx')) return true;
      return on.includes('retriable-status-codes') && policy.statusCodes.includes(s);
    }
  }
}

/** Envoy's backoff: full jitter over `base` doubling per retry, capped at ten times `base`. */
export function backoffMs(retry: number, u: number, baseMs = 25): number {
  const ceiling = Math.min(baseMs * 2 ** Math.max(0, retry - 1), baseMs * 10);
  return Math.floor(u * ceiling);
}
