// Envoy's view of one upstream cluster: a service, or one subset of it, with its live
// endpoints, its load balancer (RANDOM drawn from the seed, ROUND_ROBIN, LEAST_REQUEST
// as Envoy's power of two choices), its circuit breakers (connection pool, retries in
// flight), its outlier detection and panic threshold. Named as Istio names outbound clusters.

import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import type { Endpoint } from '../control/protocol.js';
import { NAMESPACE, serviceFqdn } from '../control/protocol.js';
import type { MeshConfig, Subset, TrafficPolicy } from '../policy/config.js';
import { usesMutualTls } from '../policy/security.js';
import { podLabelsOf } from '../identity/labels.js';
import type { SidecarTls } from './mtls.js';
import { ConnectionPool } from '../policy/connection-pool.js';
import { connectDeadline, HttpPool, HttpsPool, type UpstreamPool } from './upstream-pool.js';
import { OutlierDetector, type OutlierEvent } from '../policy/outlier.js';

export function clusterName(service: string, port: number, subset: string | undefined): string {
  return `outbound|${port}|${subset ?? ''}|${serviceFqdn(service)}`;
}

/** The ALPN Istio's sidecars offer on TCP connections whose first bytes carry the caller's metadata. */
export const PEER_EXCHANGE_ALPN = 'istio-peer-exchange';

export function hostKey(endpoint: Endpoint): string {
  return `${endpoint.host}:${endpoint.port}`;
}

const AGENT_OPTIONS = { keepAlive: true, maxSockets: Infinity, maxFreeSockets: 512, scheduling: 'lifo' } as const;

/** How one attempt reaches its host: the scheme and the pool holding the connections. */
export interface Transport {
  protocol: 'http:' | 'https:';
  agent: UpstreamPool;
  mtls: boolean;
}

/** A TCP connection under way to an endpoint: `ready` is the event that says it is open. */
export interface TcpUpstream {
  socket: Socket;
  mtls: boolean;
  ready: 'connect' | 'secureConnect';
}

/** What a cluster needs of its sidecar to speak mutual TLS: its certificate, and the mesh's PeerAuthentications. */
export interface MeshSecurity {
  tls(): SidecarTls | undefined;
  config(): MeshConfig | undefined;
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
  readonly agent: UpstreamPool = new HttpPool(AGENT_OPTIONS);
  private tlsAgent: UpstreamPool | undefined;
  private tlsGeneration = -1;
  private readonly mtlsDecisions = new Map<string, boolean>();
  private readonly port: number;

  constructor(
    readonly service: string,
    readonly subset: Subset | undefined,
    port: number,
    policy: TrafficPolicy,
    private readonly onOutlier: (cluster: Cluster, event: OutlierEvent) => void,
    private readonly security: MeshSecurity = { tls: () => undefined, config: () => undefined },
    /** The account the service's pods run as: the SPIFFE ID they must present. */
    private readonly serviceAccount?: string,
  ) {
    this.port = port;
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
    // A push may change a DestinationRule's tls or a PeerAuthentication: decide again.
    this.mtlsDecisions.clear();
    const pool = policy.connectionPool;
    this.pool.resize(pool.maxConnections, pool.http1MaxPendingRequests, pool.http2MaxRequests);
    for (const agent of [this.agent, this.tlsAgent]) if (agent) this.limit(agent);
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

  /** Plaintext or mutual TLS to `endpoint`, as Istio's automatic mTLS decides (src/policy/security.ts). */
  transport(endpoint: Endpoint): Transport {
    const tls = this.security.tls();
    if (!tls || !this.mutualTlsTo(endpoint)) return { protocol: 'http:', agent: this.agent, mtls: false };
    if (!this.tlsAgent || this.tlsGeneration !== tls.generation) {
      // A renewed certificate: new connections use it; the old ones finish and go.
      this.tlsAgent?.destroy();
      this.tlsAgent = this.limit(new HttpsPool({ ...AGENT_OPTIONS, ...tls.clientOptions(this.service, NAMESPACE, this.sni(), this.serviceAccount) }));
      this.tlsGeneration = tls.generation;
    }
    return { protocol: 'https:', agent: this.tlsAgent, mtls: true };
  }

  /**
   * A TCP connection to `endpoint` for Envoy's tcp_proxy: mutual TLS when automatic mTLS
   * says so (with Istio's ALPN for the in-band peer metadata exchange), else plaintext.
   */
  connectTcp(endpoint: Endpoint): TcpUpstream {
    const tlsMaterial = this.security.tls();
    const upstream: TcpUpstream = !tlsMaterial || !this.mutualTlsTo(endpoint)
      ? { socket: net.connect(endpoint.port, endpoint.host), mtls: false, ready: 'connect' }
      : {
        socket: tls.connect({ host: endpoint.host, port: endpoint.port, ...tlsMaterial.clientOptions(this.service, NAMESPACE, this.sni(), this.serviceAccount), ALPNProtocols: [PEER_EXCHANGE_ALPN] }),
        mtls: true,
        ready: 'secureConnect',
      };
    // The cluster's connectTimeout holds for tcp_proxy too: not open in time is a connect failure.
    const limit = this.policy.connectionPool.connectTimeoutMs;
    if (limit !== undefined) connectDeadline(upstream.socket, upstream.ready, limit);
    return upstream;
  }

  /** Istio's SNI for a cluster: outbound_.PORT_.SUBSET_.FQDN. */
  private sni(): string {
    return `outbound_.${this.port}_.${this.subset?.name ?? ''}_.${serviceFqdn(this.service)}`;
  }

  /** The DestinationRule's per-connection limits, on a pool. */
  private limit(agent: UpstreamPool): UpstreamPool {
    const { maxRequestsPerConnection, idleTimeoutMs, connectTimeoutMs } = this.policy.connectionPool;
    Object.assign(agent, { maxRequestsPerConnection, idleTimeoutMs, connectTimeoutMs });
    return agent;
  }

  /** Automatic mTLS's decision for an endpoint, made once per version and pod kind until the next push. */
  private mutualTlsTo(endpoint: Endpoint): boolean {
    const key = `${endpoint.version}|${endpoint.sidecar}`;
    let decided = this.mtlsDecisions.get(key);
    if (decided === undefined) {
      decided = usesMutualTls(
        this.policy.tls, this.security.config()?.peerAuthentications ?? [],
        { namespace: NAMESPACE, labels: podLabelsOf(this.service, endpoint.version), sidecar: endpoint.sidecar }, this.port,
      );
      this.mtlsDecisions.set(key, decided);
    }
    return decided;
  }

  close(): void {
    this.agent.destroy();
    this.tlsAgent?.destroy();
  }
}
