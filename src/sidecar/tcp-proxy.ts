// Envoy's tcp_proxy on the outbound side, for a tcp service. A client names its TCP
// destination with a CONNECT on the outbound listener (how an HTTP proxy tunnels TCP;
// mesh-sim has no iptables to capture the original destination). The connection takes
// the first of the host's VirtualService tcp routes whose port matches (Istio's default
// route otherwise), a weighted destination and an endpoint drawn from the seed and the
// connection's identity, and is piped to that pod's sidecar: over mutual TLS with
// Istio's in-band peer metadata exchange, or plaintext. Failures before the tunnel opens
// are answered once, through the sidecar's one local-reply table.

import type { IncomingMessage } from 'node:http';
import type net from 'node:net';
import { HEADER, serviceFqdn, serviceFromAuthority, type Endpoint } from '../control/protocol.js';
import { unit } from '../policy/decide.js';
import { pickWeighted } from '../policy/routing.js';
import type { RouteDestination, TcpRoute } from '../policy/config.js';
import { workloadSpiffeId } from '../identity/spiffe.js';
import { hostKey, type TcpUpstream } from './cluster.js';
import type { ResponseFlag } from '../policy/flags.js';
import type { ClusterSet } from './clusters.js';
import { firstHeader, logConnection, socketAddress, type FinishedRequest, type SidecarContext } from './context.js';
import { encodePeer, PLAINTEXT, servicePeer, UNKNOWN_PEER, type ConnectionSecurity, type Peer } from './identity.js';
import { rescue, type Failure } from './local-reply.js';
import type { TcpLabels } from './tcp-metrics.js';
import { ATTR } from '../telemetry/span.js';
import { newSpanId, newTraceId } from '../telemetry/trace-context.js';
import { nowMs } from './telemetry.js';

const NOTHING_TRIED: ReadonlySet<string> = new Set();

/** The tcp route a connection to `port` takes: the first whose match names the port (or names none). */
export function selectTcpRoute(routes: readonly TcpRoute[] | undefined, port: number): TcpRoute | undefined {
  return routes?.find((r) => r.ports.length === 0 || r.ports.includes(port));
}

/** What a connection record says: who, to whom, how it ended; the sidecar's resource says the rest. */
/** The access-log line of a TCP connection, as Envoy's tcp_proxy writes one: no method, path or code. */
export function connectionLog(base: {
  reporter: 'source' | 'destination'; startMs: number; flags: ResponseFlag[]; sent: number; received: number;
  upstreamHost: string | null; upstreamCluster: string; upstream: net.Socket | undefined; downstream: net.Socket;
  serverName: string | null; source: Peer; destination: Peer; destinationService: string; security: ConnectionSecurity;
}): FinishedRequest {
  return {
    reporter: base.reporter, startMs: base.startMs, endMs: nowMs(), method: null, path: null, authority: null, protocol: null,
    status: 0, flags: base.flags, details: null, bytesReceived: base.received, bytesSent: base.sent, requestHeaderBytes: 0, responseHeaderBytes: 0,
    upstreamHost: base.upstreamHost, upstreamCluster: base.upstreamCluster, upstreamServiceTime: null, attempts: 1,
    requestId: null, traceparent: null, userAgent: null, forwardedFor: null, routeName: null,
    upstreamLocalAddress: base.upstream ? socketAddress(base.upstream.localAddress, base.upstream.localPort) : null,
    downstreamLocalAddress: socketAddress(base.downstream.localAddress, base.downstream.localPort),
    downstreamRemoteAddress: socketAddress(base.downstream.remoteAddress, base.downstream.remotePort),
    serverName: base.serverName, source: base.source, destination: base.destination, destinationService: base.destinationService, security: base.security,
  };
}

export interface ConnectionRecord {
  side: 'client' | 'server';
  service: string;
  startMs: number;
  status: number;
  flags: string;
  key: string | undefined;
  /** Client side: the service and version connected to; server side: the caller's workload. */
  peer: string;
  destinationVersion?: string;
  mtls: boolean;
}

/**
 * A finished connection, reported to the collector for the panes and checks (as Kiali
 * reads istio_tcp_*): marked so it is counted, never traced (Envoy traces no TCP).
 */
export function recordConnection(ctx: SidecarContext, r: ConnectionRecord): void {
  const attributes: Record<string, string | number | boolean> = {
    [ATTR.tcp]: true,
    [ATTR.status]: r.status,
    [ATTR.responseFlags]: r.flags,
    [ATTR.connectionSecurity]: r.mtls ? 'mutual_tls' : 'none',
  };
  if (r.key) attributes[ATTR.requestKey] = r.key;
  if (r.side === 'client') {
    Object.assign(attributes, { [ATTR.peerService]: r.peer, [ATTR.final]: true, [ATTR.mtls]: r.mtls });
    if (r.destinationVersion) attributes[ATTR.destinationVersion] = r.destinationVersion;
  } else {
    attributes[ATTR.peerWorkload] = r.peer;
  }
  ctx.spans.add({
    traceId: newTraceId(), spanId: newSpanId(), parentSpanId: undefined,
    name: `tcp ${r.side === 'client' ? r.peer : r.service}`, kind: r.side,
    startMs: r.startMs, endMs: nowMs(), service: r.side === 'client' ? ctx.self.canonicalService : r.service,
    attributes, error: r.status === 0 || r.status >= 500,
  });
}

/** Counts bytes each way and settles once, however the connection ends. */
export function pipeCounted(downstream: net.Socket, upstream: net.Socket, done: (sent: number, received: number) => void): void {
  let received = 0;
  let sent = 0;
  downstream.on('data', (b: Buffer) => (received += b.length));
  upstream.on('data', (b: Buffer) => (sent += b.length));
  downstream.pipe(upstream);
  upstream.pipe(downstream);
  let settled = false;
  const close = () => {
    if (settled) return;
    settled = true;
    downstream.destroy();
    upstream.destroy();
    done(sent, received);
  };
  for (const socket of [downstream, upstream]) {
    socket.once('close', close);
    socket.on('error', close);
  }
}

export class TcpProxy {
  private sequence = 0;
  private readonly open = new Set<net.Socket>();

  constructor(private readonly ctx: SidecarContext, private readonly clusters: ClusterSet) {}

  /** A CONNECT on the outbound listener: `req.url` is the destination, `host:port`. */
  connect(req: IncomingMessage, client: net.Socket, head: Buffer): void {
    client.on('error', () => client.destroy());
    const authority = req.url ?? '';
    const service = serviceFromAuthority(authority);
    const snapshot = this.ctx.snapshot();
    const entry = snapshot?.services[service];
    const port = Number(authority.slice(authority.lastIndexOf(':') + 1)) || entry?.port || 0;
    const key = firstHeader(req.headers[HEADER.requestKey]) ?? `${this.ctx.boot.instance}.tcp${this.sequence++}`;
    const seed = snapshot?.seed ?? 0;
    if (!snapshot || !entry) return this.refuse(client, { kind: 'no-route' }, service, key);
    const route = selectTcpRoute(snapshot.config.virtualHosts[service]?.tcpRoutes, port);
    const destination: RouteDestination | undefined = route
      ? pickWeighted(route.destinations, unit(seed, 'route', key))
      : { host: service, subset: undefined, weight: 100 };
    if (!destination) return this.refuse(client, { kind: 'no-route' }, service, key);
    const lookup = this.clusters.get(destination.host, destination.subset);
    if ('missing' in lookup) return this.refuse(client, lookup.missing === 'service' ? { kind: 'no-route' } : { kind: 'no-cluster' }, destination.host, key);
    const cluster = lookup.cluster;
    const endpoint = cluster.pick(NOTHING_TRIED, unit(seed, 'host', key, '1'), unit(seed, 'host2', key, '1'));
    if (!endpoint) return this.refuse(client, { kind: 'no-healthy-upstream' }, destination.host, key);
    this.tunnel(client, head, destination.host, endpoint, cluster.connectTcp(endpoint), key, cluster.name);
  }

  private tunnel(client: net.Socket, head: Buffer, service: string, endpoint: Endpoint, upstream: TcpUpstream, key: string, clusterName: string): void {
    const startMs = nowMs();
    const { socket, mtls } = upstream;
    const labels: TcpLabels = {
      reporter: 'source',
      source: this.ctx.self,
      destination: servicePeer(service, endpoint.version),
      destinationService: service,
      flags: '-',
      // The source side reports `unknown`; the principals are the SPIFFE IDs mTLS proved.
      security: mtls ? { mtls, sourcePrincipal: this.ctx.tls?.spiffe, destinationPrincipal: workloadSpiffeId(service, this.ctx.boot.namespace, this.ctx.snapshot()?.services[service]?.serviceAccount) } : { mtls, sourcePrincipal: undefined, destinationPrincipal: undefined },
    };
    let connected = false;
    socket.once(upstream.ready, () => {
      connected = true;
      // Istio's metadata exchange: who is calling, in-band before the client's first byte.
      // (mesh-sim adds the connection's identity, so its counts land in the right check window.)
      if (mtls) socket.write(`${encodePeer(this.ctx.self)}\t${key}\n`);
      client.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (head.length > 0) socket.write(head);
      this.ctx.metrics.tcp.opened(labels);
      this.open.add(client);
      pipeCounted(client, socket, (sent, received) => {
        this.open.delete(client);
        this.ctx.metrics.tcp.closed(labels, sent, received);
        logConnection(this.ctx, connectionLog({
          reporter: 'source', startMs, flags: [], sent, received, upstreamHost: hostKey(endpoint), upstreamCluster: clusterName,
          upstream: socket, downstream: client, serverName: null, source: labels.source, destination: labels.destination, destinationService: service, security: labels.security,
        }));
        recordConnection(this.ctx, { side: 'client', service: this.ctx.self.canonicalService, startMs, status: 200, flags: '-', key, peer: service, destinationVersion: endpoint.version, mtls });
      });
    });
    socket.once('error', () => {
      if (connected) return;
      socket.destroy();
      this.refuse(client, { kind: 'connect-failure' }, service, key);
    });
  }

  /** A CONNECT answered by the sidecar itself, as Envoy's local reply, and counted as a connection that failed. */
  private refuse(client: net.Socket, failure: Failure, service: string, key?: string): void {
    const reply = rescue(failure);
    const body = reply.body;
    client.end(`HTTP/1.1 ${reply.status} ${reply.status === 404 ? 'Not Found' : 'Service Unavailable'}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-envoy-response-flags: ${reply.flag ?? '-'}\r\nconnection: close\r\n\r\n${body}`);
    const labels: TcpLabels = { reporter: 'source', source: this.ctx.self, destination: UNKNOWN_PEER, destinationService: failure.kind === 'no-route' ? 'unknown' : service, flags: reply.flag ?? '-', security: PLAINTEXT };
    this.ctx.metrics.tcp.opened(labels);
    this.ctx.metrics.tcp.closed(labels, 0, 0);
    recordConnection(this.ctx, { side: 'client', service: this.ctx.self.canonicalService, startMs: nowMs(), status: reply.status, flags: reply.flag ?? '-', key, peer: labels.destinationService, mtls: false });
    logConnection(this.ctx, connectionLog({
      reporter: 'source', startMs: nowMs(), flags: reply.flag ? [reply.flag] : [], sent: 0, received: 0, upstreamHost: null, upstreamCluster: `outbound|${this.ctx.snapshot()?.services[service]?.port ?? 0}||${serviceFqdn(service)}`,
      upstream: undefined, downstream: client, serverName: null, source: this.ctx.self, destination: UNKNOWN_PEER, destinationService: labels.destinationService, security: PLAINTEXT,
    }));
  }

  close(): void {
    for (const socket of this.open) socket.destroy();
  }
}
