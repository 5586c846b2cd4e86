// The sidecar's statistics as Envoy's admin /stats prints them (`name: value`, one a
// line, sorted): what Istio's tasks read with `pilot-agent request GET stats`, such as
// the Circuit Breaking task's `grep pending`. Only the statistics mesh-sim keeps, under
// Envoy's names, for every cluster it has made: its counters (from the same registry
// Prometheus scrapes) and its circuit breakers' gauges, read live. The breakers are
// Istio's: thresholds on the default priority with track_remaining, so the remaining_*
// gauges exist; an unset threshold is Istio's default, 2^32-1.

import type { Registry } from 'prom-client';
import type { Cluster } from './cluster.js';

/** Envoy's per-cluster counters mesh-sim keeps, by the name it exports to Prometheus. */
const COUNTERS: Record<string, string> = {
  envoy_cluster_upstream_rq_pending_overflow: 'upstream_rq_pending_overflow',
  envoy_cluster_upstream_rq_retry: 'upstream_rq_retry',
  envoy_cluster_upstream_rq_timeout: 'upstream_rq_timeout',
  envoy_cluster_outlier_detection_ejections_enforced_total: 'outlier_detection.ejections_enforced_total',
  envoy_cluster_outlier_detection_ejections_active: 'outlier_detection.ejections_active',
};

/** Gauges of one cluster's default-priority circuit breakers and pending queue, now. */
function breakerGauges(cluster: Cluster): Record<string, number> {
  const limits = cluster.trafficPolicy.connectionPool;
  const pending = cluster.pool.pending;
  const requests = cluster.pool.inFlight;
  const retries = cluster.retriesInFlight;
  const open = (used: number, max: number) => (used >= max ? 1 : 0);
  return {
    'circuit_breakers.default.rq_open': open(requests, limits.http2MaxRequests),
    'circuit_breakers.default.rq_pending_open': open(pending, limits.http1MaxPendingRequests),
    'circuit_breakers.default.rq_retry_open': open(retries, limits.maxRetries),
    'circuit_breakers.default.remaining_pending': Math.max(0, limits.http1MaxPendingRequests - pending),
    'circuit_breakers.default.remaining_retries': Math.max(0, limits.maxRetries - retries),
    'circuit_breakers.default.remaining_rq': Math.max(0, limits.http2MaxRequests - requests),
    'upstream_rq_active': requests,
    'upstream_rq_pending_active': pending,
  };
}

export async function envoyStatsText(registry: Registry, clusters: readonly Cluster[]): Promise<string> {
  const counted = new Map<string, number>();
  for (const metric of await registry.getMetricsAsJSON()) {
    const stat = COUNTERS[metric.name];
    if (!stat) continue;
    for (const value of metric.values) counted.set(`${String(value.labels.cluster_name)}.${stat}`, value.value);
  }
  const lines: string[] = [];
  for (const cluster of clusters) {
    const prefix = `cluster.${cluster.name}.`;
    for (const stat of Object.values(COUNTERS)) lines.push(`${prefix}${stat}: ${counted.get(`${cluster.name}.${stat}`) ?? 0}`);
    for (const [stat, value] of Object.entries(breakerGauges(cluster))) lines.push(`${prefix}${stat}: ${value}`);
  }
  return lines.sort().join('\n') + '\n';
}
