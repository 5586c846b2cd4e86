// Which failed attempts are retried, as Envoy's x-envoy-retry-on conditions define them,
// and how long to back off between tries.

import type { RetryPolicy } from '../scenario/model.js';

/** What one attempt at the upstream came to. */
export type AttemptOutcome =
  | { kind: 'response'; status: number }
  | { kind: 'connect-failure' }
  /** The upstream closed or reset the connection before answering. */
  | { kind: 'reset' }
  | { kind: 'per-try-timeout' };

export function isRetriable(outcome: AttemptOutcome, policy: RetryPolicy): boolean {
  const on = policy.retryOn;
  switch (outcome.kind) {
    case 'connect-failure':
      // 5xx and gateway-error include connection failures.
      return on.includes('connect-failure') || on.includes('5xx') || on.includes('gateway-error') || on.includes('reset');
    case 'reset':
      return on.includes('reset') || on.includes('5xx');
    case 'per-try-timeout':
      // A per-try timeout counts as a 504: retried on 5xx, gateway-error and reset.
      return on.includes('5xx') || on.includes('gateway-error') || on.includes('reset');
    case 'response': {
      const s = outcome.status;
      if (s >= 500 && on.includes('5xx')) return true;
      if (s >= 502 && s <= 504 && on.includes('gateway-error')) return true;
      if (s === 409 && on.includes('retriable-4xx')) return true;
      return on.includes('retriable-status-codes') && policy.statusCodes.includes(s);
    }
  }
}

/** Envoy's default backoff: full jitter over 25 ms doubling per retry, capped at 250 ms. */
export function backoffMs(retry: number, u: number): number {
  const ceiling = Math.min(25 * 2 ** Math.max(0, retry - 1), 250);
  return Math.floor(u * ceiling);
}
