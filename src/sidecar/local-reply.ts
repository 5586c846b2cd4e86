// Every answer a sidecar makes itself, in one place: a typed failure (or a configured
// local response) becomes its status, Envoy's response flag, its response code details
// and body, as Envoy's router and fault filter send them. Nothing else in the sidecar
// writes a status of its own (linkerd2-proxy's one `rescue` point is the model).

import type { ResponseFlag } from '../policy/flags.js';

export type Failure =
  | { kind: 'no-route' }
  | { kind: 'no-cluster' }
  | { kind: 'no-healthy-upstream' }
  | { kind: 'overflow' }
  | { kind: 'fault-abort'; status: number }
  | { kind: 'timeout' }
  | { kind: 'per-try-timeout' }
  | { kind: 'connect-failure' }
  | { kind: 'reset' }
  | { kind: 'payload-too-large'; limit: number }
  | { kind: 'direct-response'; status: number; body: string | undefined }
  | { kind: 'redirect'; status: number; location: string }
  /** An AuthorizationPolicy denied it; `policy` as Envoy's RBAC filter names it, or `none`. */
  | { kind: 'rbac-denied'; policy: string };

export interface LocalReply {
  status: number;
  /** The flag this reply adds to the request's (none for a configured response). */
  flag: ResponseFlag | undefined;
  details: string;
  body: string;
  headers: Record<string, string>;
}

const RESET_BODY = 'upstream connect error or disconnect/reset before headers.';

/**
 * What Envoy answers for a failure. `retried`: the router tried more than once, which
 * Envoy's reset bodies mention ("retried and the latest reset reason").
 */
export function rescue(failure: Failure, retried = false): LocalReply {
  const reset = (reason: string) => `${RESET_BODY} ${retried ? 'retried and the latest ' : ''}reset reason: ${reason}`;
  switch (failure.kind) {
    case 'no-route':
      return { status: 404, flag: 'NR', details: 'route_not_found', body: '', headers: {} };
    case 'no-cluster':
      return { status: 503, flag: 'NC', details: 'cluster_not_found', body: '', headers: {} };
    case 'no-healthy-upstream':
      return { status: 503, flag: 'UH', details: 'no_healthy_upstream', body: 'no healthy upstream', headers: {} };
    case 'overflow':
      return {
        status: 503, flag: 'UO', details: 'upstream_reset_before_response_started{overflow}', body: reset('overflow'),
        headers: { 'x-envoy-overloaded': 'true' },
      };
    case 'fault-abort':
      return { status: failure.status, flag: 'FI', details: 'fault_filter_abort', body: 'fault filter abort', headers: {} };
    case 'timeout':
      return { status: 504, flag: 'UT', details: 'response_timeout', body: 'upstream request timeout', headers: {} };
    case 'per-try-timeout':
      return { status: 504, flag: 'UT', details: 'upstream_per_try_timeout', body: 'upstream request timeout', headers: {} };
    case 'connect-failure':
      return { status: 503, flag: 'UF', details: 'upstream_reset_before_response_started{connection_failure}', body: reset('connection failure'), headers: {} };
    case 'reset':
      return { status: 503, flag: 'UC', details: 'upstream_reset_before_response_started{connection_termination}', body: reset('connection termination'), headers: {} };
    case 'payload-too-large':
      return { status: 413, flag: undefined, details: 'request_payload_too_large', body: `Payload Too Large (the retry buffer holds ${failure.limit} bytes)`, headers: {} };
    case 'direct-response':
      return { status: failure.status, flag: undefined, details: 'direct_response', body: failure.body ?? '', headers: {} };
    case 'redirect':
      return { status: failure.status, flag: undefined, details: 'redirect', body: '', headers: { location: failure.location } };
    case 'rbac-denied':
      // Envoy's RBAC filter sets no response flag; the details name the policy (spaces made '_').
      return { status: 403, flag: undefined, details: `rbac_access_denied_matched_policy[${failure.policy.replace(/\s/g, '_')}]`, body: 'RBAC: access denied', headers: {} };
  }
}
