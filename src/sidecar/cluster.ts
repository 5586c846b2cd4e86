// Envoy's view of one upstream: a service, or one version of it (a subset), with its
// live endpoints balanced round robin, its connection pool (circuit breaker) and its
// outlier detection. Named as Istio names outbound clusters.

import http from 'node:http';
import type { Endpoint } from '../control/protocol.js';
import { serviceFqdn } from '../control/protocol.js';
import type { ConnectionPool as PoolPolicy, OutlierDetection } from '../scenario/model.js';
import { ConnectionPool } from '../policy/connection-pool.js';
import { OutlierDetector, type OutlierEvent } from '../policy/outlier.js';

export function clusterName(service: string, port: number, subset: string | undefined): string {
  return `outbound|${port}|${subset ?? ''}|${serviceFqdn(service)}`;
}

export function hostKey(endpoint: Endpoint): string {
  return `${endpoint.host}:${endpoint.port}`;
}

export class Cluster {
  readonly name: string;
  private endpoints: Endpoint[] = [];
  readonly pool: ConnectionPool;
  private outlier: OutlierDetector | undefined;
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 512, scheduling: 'lifo' });

  constructor(
    readonly service: string,
    readonly subset: string | undefined,
    port: number,
    pool: PoolPolicy,
    private readonly onOutlier: (cluster: Cluster, event: OutlierEvent) => void,
  ) {
    this.name = clusterName(service, port, subset);
    this.pool = new ConnectionPool(pool.maxConnections, pool.http1MaxPendingRequests);
  }

  update(endpoints: Endpoint[], pool: PoolPolicy, outlier: OutlierDetection | undefined, now: number): void {
    this.endpoints = this.subset === undefined ? endpoints : endpoints.filter((e) => e.version === this.subset);
    this.pool.resize(pool.maxConnections, pool.http1MaxPendingRequests);
    if (outlier) {
      if (this.outlier) this.outlier.reconfigure(outlier);
      else this.outlier = new OutlierDetector(outlier, now);
      this.outlier.setHosts(this.endpoints.map(hostKey));
    } else {
      this.outlier = undefined;
    }
  }

  get size(): number {
    return this.endpoints.length;
  }

  get ejected(): number {
    return this.outlier?.ejectedCount ?? 0;
  }

  isEjected(endpoint: Endpoint): boolean {
    return this.outlier?.isEjected(hostKey(endpoint)) ?? false;
  }

  /**
   * A healthy endpoint drawn by `u` (uniform in [0, 1), from the seed and the request's
   * identity, like Envoy's RANDOM load balancer), preferring one not tried yet for this
   * request (Istio's previous_hosts retry predicate); undefined when none is healthy.
   * Drawn, not round robin, so which version an unrouted request reaches does not hang
   * on the order concurrent requests happen to arrive in.
   */
  pick(tried: ReadonlySet<string>, u: number): Endpoint | undefined {
    let fresh = 0;
    let healthy = 0;
    for (const endpoint of this.endpoints) {
      if (this.isEjected(endpoint)) continue;
      healthy++;
      if (!tried.has(hostKey(endpoint))) fresh++;
    }
    if (healthy === 0) return undefined;
    const preferFresh = fresh > 0;
    let k = Math.floor(u * (preferFresh ? fresh : healthy));
    for (const endpoint of this.endpoints) {
      if (this.isEjected(endpoint) || (preferFresh && tried.has(hostKey(endpoint)))) continue;
      if (k-- === 0) return endpoint;
    }
    return undefined;
  }

  /** One attempt's result at one host, for outlier detection. */
  record(endpoint: Endpoint, failed: boolean, now: number): void {
    if (!this.outlier) return;
    const event = this.outlier.record(hostKey(endpoint), failed, now);
    if (event) this.onOutlier(this, event);
  }

  sweep(now: number): void {
    if (!this.outlier) return;
    for (const event of this.outlier.sweep(now)) this.onOutlier(this, event);
  }

  describe(): { name: string; hosts: Array<{ host: string; instance: string; ejected: boolean }>; inFlight: number; pending: number } {
    return {
      name: this.name,
      hosts: this.endpoints.map((e) => ({ host: hostKey(e), instance: e.instance, ejected: this.isEjected(e) })),
      inFlight: this.pool.inFlight,
      pending: this.pool.pending,
    };
  }

  close(): void {
    this.agent.destroy();
  }
}
