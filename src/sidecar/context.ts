// What both sides of a sidecar share: who it is, the latest snapshot from the control
// plane, and its telemetry outputs. Finishing a request records it once, everywhere.

import type { SidecarSnapshot } from '../control/protocol.js';
import { formatFlags, type ResponseFlag } from '../policy/flags.js';
import type { SidecarBoot } from './boot.js';
import type { ConnectionSecurity, Peer } from './identity.js';
import type { IstioMetrics, LineWriter, SpanSink } from './telemetry.js';
import type { SidecarTls } from './mtls.js';

export interface SidecarContext {
  boot: SidecarBoot;
  self: Peer;
  /** This pod's certificate and the mesh's root; undefined for a pod outside the mesh. */
  tls: SidecarTls | undefined;
  snapshot(): SidecarSnapshot | undefined;
  metrics: IstioMetrics;
  spans: SpanSink;
  log: LineWriter;
}

/** One request as a sidecar saw it, once it is over. */
export interface FinishedRequest {
  reporter: 'source' | 'destination';
  startMs: number;
  endMs: number;
  /** null for a TCP connection (Envoy's "-"), as are path, authority and the request's ids. */
  method: string | null;
  path: string | null;
  authority: string | null;
  /** The access log's protocol: HTTP/1.1 unless a TCP connection (null). */
  protocol?: string | null;
  status: number;
  flags: ResponseFlag[];
  details: string | null;
  /** Body bytes (the access log's bytes_received and bytes_sent). */
  bytesReceived: number;
  bytesSent: number;
  /** Header bytes, which Istio's istio_request_bytes and istio_response_bytes add to the body's. */
  requestHeaderBytes: number;
  responseHeaderBytes: number;
  upstreamHost: string | null;
  upstreamCluster: string;
  upstreamServiceTime: number | null;
  attempts: number;
  requestId: string | null;
  traceparent: string | null;
  userAgent: string | null;
  forwardedFor: string | null;
  routeName: string | null;
  upstreamLocalAddress: string | null;
  downstreamLocalAddress: string | null;
  downstreamRemoteAddress: string | null;
  serverName: string | null;
  source: Peer;
  destination: Peer;
  destinationService: string;
  security: ConnectionSecurity;
}

export function recordRequest(ctx: SidecarContext, r: FinishedRequest): void {
  const flags = formatFlags(r.flags);
  const durationMs = r.endMs - r.startMs;
  ctx.metrics.requests.record(
    { reporter: r.reporter, source: r.source, destination: r.destination, destinationService: r.destinationService, status: r.status, flags, security: r.security },
    durationMs, r.bytesReceived + r.requestHeaderBytes, r.bytesSent + r.responseHeaderBytes,
  );
  ctx.log.text(formatAccessLog(ctx, r, flags, durationMs));
}

/** A TCP connection's access-log line (its metrics are istio_tcp_*, counted as it opens and closes). */
export function logConnection(ctx: SidecarContext, r: FinishedRequest): void {
  ctx.log.text(formatAccessLog(ctx, r, formatFlags(r.flags), r.endMs - r.startMs));
}

const str = (value: string | null): string => (value === null ? 'null' : JSON.stringify(value));

/** One access-log line: the fields of AccessLogEntry (Istio's 24, then mesh-sim's), in its order, as JSON. */
function formatAccessLog(ctx: SidecarContext, r: FinishedRequest, flags: string, durationMs: number): string {
  // Written out by hand: this runs for every request, and JSON.stringify of an object costs more.
  return `{"start_time":"${new Date(r.startMs).toISOString()}","route_name":${str(r.routeName)},"method":${str(r.method)},"path":${str(r.path)},"protocol":${r.protocol === undefined ? '"HTTP/1.1"' : str(r.protocol)},`
    + `"response_code":${r.status},"response_flags":"${flags}","response_code_details":${str(r.details)},`
    + `"connection_termination_details":null,"upstream_transport_failure_reason":null,`
    + `"bytes_received":${r.bytesReceived},"bytes_sent":${r.bytesSent},"duration":${Math.round(durationMs)},`
    + `"upstream_service_time":${r.upstreamServiceTime === null ? 'null' : `"${Math.round(r.upstreamServiceTime)}"`},`
    + `"x_forwarded_for":${str(r.forwardedFor)},"user_agent":${str(r.userAgent)},"request_id":${str(r.requestId)},"authority":${str(r.authority)},`
    + `"upstream_host":${str(r.upstreamHost)},"upstream_cluster":${str(r.upstreamCluster)},"upstream_local_address":${str(r.upstreamLocalAddress)},`
    + `"downstream_local_address":${str(r.downstreamLocalAddress)},"downstream_remote_address":${str(r.downstreamRemoteAddress)},`
    + `"requested_server_name":${str(r.serverName)},`
    + `"upstream_request_attempt_count":${r.attempts},"traceparent":${str(r.traceparent)},"reporter":"${r.reporter}",`
    + `"workload":${str(ctx.self.workload)},"instance":${str(ctx.boot.instance)},"destination_service":${str(r.destinationService)}}`;
}

/** `ADDRESS:PORT` of one end of a socket, as Envoy's address fields print it. */
export function socketAddress(address: string | undefined, port: number | undefined): string | null {
  if (address === undefined || port === undefined) return null;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Envoy's header-map byte size: the lengths of every name and value. */
export function headerBytes(rawHeaders: readonly string[]): number {
  let n = 0;
  for (const part of rawHeaders) n += part.length;
  return n;
}

/** The same, for headers set on a response (name to value or values). */
export function outgoingHeaderBytes(headers: Record<string, number | string | string[] | undefined>): number {
  let n = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) n += name.length + v.length;
    else n += name.length + String(value).length;
  }
  return n;
}

export function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
