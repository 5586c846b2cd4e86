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
  private next = 0;
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
   * The next healthy endpoint round robin, preferring one not tried yet for this
   * request (Istio's previous_hosts retry predicate); undefined when none is healthy.
   */
  pick(tried: ReadonlySet<string>): Endpoint | undefined {
    const n = this.endpoints.length;
    let fallback: Endpoint | undefined;
    // Walk round robin from the next position; no arrays on this per-request path.
    for (let i = 0; i < n; i++) {
      const endpoint = this.endpoints[(this.next + i) % n]!;
      if (this.isEjected(endpoint)) continue;
      if (tried.size === 0 || !tried.has(hostKey(endpoint))) {
        this.next = (this.next + i + 1) % n;
        return endpoint;
      }
      fallback ??= endpoint;
    }
    if (fallback) this.next = (this.next + 1) % Math.max(1, n);
    return fallback;
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
