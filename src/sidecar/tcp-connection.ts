// What one proxied TCP connection leaves behind, on either side (Envoy's tcp_proxy
// outbound and inbound): its istio_tcp_* counts, opened as it opens and closed with its
// bytes; its access-log line, as tcp_proxy writes one (no method, path or code); and its
// record for mesh-sim's panes and checks, counted as Kiali reads the TCP metrics, never
// traced (Envoy traces no TCP). One place derives all three from the connection.

import type net from 'node:net';
import { parseFlags } from '../policy/flags.js';
import { ATTR } from '../telemetry/span.js';
import { newSpanId, newTraceId } from '../telemetry/trace-context.js';
import { logConnection, socketAddress, type SidecarContext } from './context.js';
import type { TcpLabels } from './tcp-metrics.js';
import { nowMs } from './telemetry.js';

export interface TcpConnection {
  /** Istio's labels: reporter, both peers, the destination service, flags, how it was secured. */
  labels: TcpLabels;
  startMs: number;
  /** The request key it carries (mesh-sim's), so its counts land in the right check window. */
  key: string | undefined;
  upstreamHost: string | null;
  upstreamCluster: string;
  /** The SNI the client sent (the destination side of mutual TLS). */
  serverName: string | null;
  /** Both ends' addresses, read as it opens: a closed socket no longer knows them. */
  addresses?: ConnectionAddresses;
}

interface ConnectionAddresses {
  upstreamLocal: string | null;
  downstreamLocal: string | null;
  downstreamRemote: string | null;
}

export interface ConnectionEnd {
  /** The record's status: 200 for a connection that carried bytes, the local reply's otherwise. */
  status: number;
  sent: number;
  received: number;
  /** False where no access-log line is written for it. */
  log: boolean;
}

/** Counts the connection as open, and notes its addresses while its sockets still know them. */
export function connectionOpened(ctx: SidecarContext, c: TcpConnection, downstream: net.Socket, upstream: net.Socket | undefined): void {
  ctx.metrics.tcp.opened(c.labels);
  c.addresses = {
    upstreamLocal: upstream ? socketAddress(upstream.localAddress, upstream.localPort) : null,
    downstreamLocal: socketAddress(downstream.localAddress, downstream.localPort),
    downstreamRemote: socketAddress(downstream.remoteAddress, downstream.remotePort),
  };
}

export function connectionClosed(ctx: SidecarContext, c: TcpConnection, end: ConnectionEnd): void {
  const { labels } = c;
  ctx.metrics.tcp.closed(labels, end.sent, end.received);
  const endMs = nowMs();
  if (end.log) {
    logConnection(ctx, {
      reporter: labels.reporter, startMs: c.startMs, endMs, method: null, path: null, authority: null, protocol: null,
      status: 0, flags: parseFlags(labels.flags), details: null, bytesReceived: end.received, bytesSent: end.sent, requestHeaderBytes: 0, responseHeaderBytes: 0,
      upstreamHost: c.upstreamHost, upstreamCluster: c.upstreamCluster, upstreamServiceTime: null, attempts: 1,
      requestId: null, traceparent: null, userAgent: null, forwardedFor: null, routeName: null,
      upstreamLocalAddress: c.addresses?.upstreamLocal ?? null,
      downstreamLocalAddress: c.addresses?.downstreamLocal ?? null,
      downstreamRemoteAddress: c.addresses?.downstreamRemote ?? null,
      serverName: c.serverName, source: labels.source, destination: labels.destination, destinationService: labels.destinationService, security: labels.security,
    });
  }
  record(ctx, c, end.status, endMs);
}

/** The connection as a span marked ATTR.tcp: the collector counts it and traces nothing of it. */
function record(ctx: SidecarContext, c: TcpConnection, status: number, endMs: number): void {
  const { labels } = c;
  const client = labels.reporter === 'source';
  const attributes: Record<string, string | number | boolean> = {
    [ATTR.tcp]: true,
    [ATTR.status]: status,
    [ATTR.responseFlags]: labels.flags,
    [ATTR.connectionSecurity]: labels.security.mtls ? 'mutual_tls' : 'none',
  };
  if (c.key) attributes[ATTR.requestKey] = c.key;
  if (client) {
    Object.assign(attributes, { [ATTR.peerService]: labels.destinationService, [ATTR.final]: true, [ATTR.mtls]: labels.security.mtls });
    if (labels.destination.version !== 'unknown') attributes[ATTR.destinationVersion] = labels.destination.version;
  } else {
    attributes[ATTR.peerWorkload] = labels.source.workload;
  }
  const service = client ? ctx.self.canonicalService : labels.destinationService;
  ctx.spans.add({
    traceId: newTraceId(), spanId: newSpanId(), parentSpanId: undefined,
    name: `tcp ${client ? labels.destinationService : service}`, kind: client ? 'client' : 'server',
    startMs: c.startMs, endMs, service,
    attributes, error: status === 0 || status >= 500,
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
