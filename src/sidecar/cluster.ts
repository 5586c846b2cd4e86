// Envoy's view of one upstream cluster: a service, or one subset of it, with its live
// endpoints, its load balancer (RANDOM drawn from the seed, ROUND_ROBIN, LEAST_REQUEST
// as Envoy's power of two choices), its circuit breakers (connection pool, retries in
// flight), its outlier detection and panic threshold. Named as Istio names outbound clusters.

import http from 'node:http';
import type { Socket } from 'node:net';
import type { Endpoint } from '../control/protocol.js';
import { serviceFqdn } from '../control/protocol.js';
import type { Subset, TrafficPolicy } from '../policy/config.js';
import { ConnectionPool } from '../policy/connection-pool.js';
import { OutlierDetector, type OutlierEvent } from '../policy/outlier.js';

export function clusterName(service: string, port: number, subset: string | undefined): string {
  return `outbound|${port}|${subset ?? ''}|${serviceFqdn(service)}`;
}

export function hostKey(endpoint: Endpoint): string {
  return `${endpoint.host}:${endpoint.port}`;
}

const SERVED = Symbol('requestsServed');
type CountedSocket = Socket & { [SERVED]?: number };

/**
 * Keep-alive connections that serve at most `maxRequestsPerConnection` requests each
 * (Istio's connectionPool.http.maxRequestsPerConnection; 0 is no limit) and close
 * after `idleTimeoutMs` unused.
 */
class UpstreamAgent extends http.Agent {
  maxRequestsPerConnection = 0;
  idleTimeoutMs: number | undefined;

  override keepSocketAlive(socket: Socket): boolean {
    const keep = (http.Agent.prototype.keepSocketAlive as unknown as (this: http.Agent, s: Socket) => boolean);
    const counted = socket as CountedSocket;
    counted[SERVED] = (counted[SERVED] ?? 0) + 1;
    if (this.maxRequestsPerConnection > 0 && counted[SERVED] >= this.maxRequestsPerConnection) return false;
    const kept = keep.call(this, socket);
    if (kept && this.idleTimeoutMs !== undefined) socket.setTimeout(this.idleTimeoutMs);
    return kept;
  }
}

export class Cluster {
  readonly name: string;
  private endpoints: Endpoint[] = [];
  readonly pool: ConnectionPool;
  private outlier: OutlierDetector | undefined;
  private policy: TrafficPolicy;
  private roundRobin = 0;
  /** Requests in flight per host, for LEAST_REQUEST. */
  private readonly active = new Map<string, number>();
  /** Retries in flight: Envoy's max_retries circuit breaker. */
  retriesInFlight = 0;
  readonly agent = new UpstreamAgent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 512, scheduling: 'lifo' });

  constructor(
    readonly service: string,
    readonly subset: Subset | undefined,
    port: number,
    policy: TrafficPolicy,
    private readonly onOutlier: (cluster: Cluster, event: OutlierEvent) => void,
  ) {
    this.name = clusterName(service, port, subset?.name);
    this.policy = policy;
    this.pool = new ConnectionPool(policy.connectionPool.maxConnections, policy.connectionPool.http1MaxPendingRequests, policy.connectionPool.http2MaxRequests);
  }

  get trafficPolicy(): TrafficPolicy {
    return this.policy;
  }

  /** New endpoints (already this subset's) and policy from a snapshot. */
  update(endpoints: Endpoint[], policy: TrafficPolicy, now: number): void {
    this.endpoints = endpoints;
    this.policy = policy;
    const pool = policy.connectionPool;
    this.pool.resize(pool.maxConnections, pool.http1MaxPendingRequests, pool.http2MaxRequests);
    this.agent.maxRequestsPerConnection = pool.maxRequestsPerConnection;
    this.agent.idleTimeoutMs = pool.idleTimeoutMs;
    const od = policy.outlierDetection;
    if (od) {
      if (this.outlier) this.outlier.reconfigure(od);
      else this.outlier = new OutlierDetector(od, now);
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
   * A host for one attempt, preferring hosts not tried yet for this request (Istio's
   * previous_hosts retry predicate) when `avoid` holds them; undefined when no host is
   * healthy. Below minHealthPercent healthy hosts, Envoy panics and balances over all.
   * `u` and `u2` are uniform in [0, 1), drawn from the seed and the request's identity, so
   * RANDOM (mesh-sim's default) picks alike on every run, whatever order requests came in.
   */
  pick(avoid: ReadonlySet<string>, u: number, u2: number): Endpoint | undefined {
    const healthy = this.endpoints.filter((e) => !this.isEjected(e));
    const minHealth = this.policy.outlierDetection?.minHealthPercent ?? 0;
    const panic = this.endpoints.length > 0 && (100 * healthy.length) / this.endpoints.length < minHealth;
    const pool = panic ? this.endpoints : healthy;
    if (pool.length === 0) return undefined;
    const fresh = pool.filter((e) => !avoid.has(hostKey(e)));
    const candidates = fresh.length > 0 ? fresh : pool;
    switch (this.policy.loadBalancer) {
      case 'ROUND_ROBIN':
        return candidates[this.roundRobin++ % candidates.length];
      case 'LEAST_REQUEST': {
        // Envoy's power of two choices: two hosts drawn, the one with fewer requests in flight.
        const a = candidates[Math.floor(u * candidates.length)]!;
        const b = candidates[Math.floor(u2 * candidates.length)]!;
        return (this.active.get(hostKey(b)) ?? 0) < (this.active.get(hostKey(a)) ?? 0) ? b : a;
      }
      default:
        return candidates[Math.floor(u * candidates.length)];
    }
  }

  /** A request to `endpoint` starts; the returned function ends it. */
  started(endpoint: Endpoint): () => void {
    const key = hostKey(endpoint);
    this.active.set(key, (this.active.get(key) ?? 0) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const n = (this.active.get(key) ?? 1) - 1;
      if (n <= 0) this.active.delete(key);
      else this.active.set(key, n);
    };
  }

  /** One attempt's result at one host, as a status (Envoy's stand-ins for local failures), for outlier detection. */
  record(endpoint: Endpoint, status: number, now: number): void {
    if (!this.outlier) return;
    const event = this.outlier.record(hostKey(endpoint), status, now);
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
