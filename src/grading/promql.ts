// A scenario's checks in PromQL over Istio's standard metrics, so the same scenario is
// graded the same way on any Prometheus that holds them: a real cluster's, or mesh-sim's
// own. Requests, rates, errors and latency are counted where Istio's dashboards count
// them, at the destination (reporter="destination"). Pure: it builds queries; the CLI
// sends them.

import type { CheckExpr } from '../scenario/check-expr.js';

export interface CheckQuery {
  /** The PromQL that measures the check's left side, in the check's unit. */
  promql: string;
}

export interface NotJudged {
  /** Why Istio's metrics cannot answer it. */
  reason: string;
}

/** Seconds as PromQL writes a range: `95s`. */
export function promRange(seconds: number): string {
  return `${Math.max(1, Math.round(seconds))}s`;
}

function selector(expr: CheckExpr, namespace: string, extra = ''): string {
  const parts = [
    'reporter="destination"',
    `destination_service_name="${expr.service}"`,
    `destination_service_namespace="${namespace}"`,
  ];
  if (expr.version !== undefined) parts.push(`destination_version="${expr.version}"`);
  if (extra) parts.push(extra);
  return `{${parts.join(',')}}`;
}

/** mesh-sim's error: a 5xx, or no response at all (Istio's response_code 0). */
const ERROR_CODES = 'response_code=~"0|5.."';

/**
 * How much a counter grew over the range: its value now less its value at the range's
 * start, and all of it for a series born inside the range (a sidecar's counters appear
 * with its first request, which increase() would mostly extrapolate away).
 */
export function growth(series: string, range: string): string {
  return `((${series} - ${series} offset ${range}) or (${series} unless ${series} offset ${range}))`;
}

/** The query that measures a check over `rangeSeconds` ending at the evaluation time. */
export function checkQuery(expr: CheckExpr, rangeSeconds: number, namespace: string): CheckQuery | NotJudged {
  if (expr.flow) return { reason: "a flow's own view is its client's; Istio's metrics hold the mesh's (the traffic Job prints each flow's)" };
  const range = promRange(rangeSeconds);
  const requests = growth(`istio_requests_total${selector(expr, namespace)}`, range);
  switch (expr.func) {
    case 'requests':
      return { promql: `sum(${requests})` };
    case 'rps':
      return { promql: `sum(${requests}) / ${Math.max(1, Math.round(rangeSeconds))}` };
    case 'error_rate':
      return { promql: `sum(${growth(`istio_requests_total${selector(expr, namespace, ERROR_CODES)}`, range)}) / sum(${requests})` };
    case 'p50':
    case 'p90':
    case 'p99': {
      const q = Number(expr.func.slice(1)) / 100;
      return { promql: `histogram_quantile(${q}, sum by (le) (${growth(`istio_request_duration_milliseconds_bucket${selector(expr, namespace)}`, range)}))` };
    }
    case 'degraded_rate':
      return { reason: "a degraded answer is the app's own fallback (a 200): Istio's metrics cannot tell it apart" };
  }
}

/**
 * What an empty answer means: no requests at all. A count or a rate is then 0; a ratio
 * or a percentile has no value, and a check on it does not hold.
 */
export function emptyValue(expr: CheckExpr): number {
  return expr.func === 'requests' || expr.func === 'rps' ? 0 : NaN;
}
