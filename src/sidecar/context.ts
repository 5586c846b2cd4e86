// What both sides of a sidecar share: who it is, the latest snapshot from the control
// plane, and its telemetry outputs. Finishing a request records it once, everywhere.

import type { SidecarSnapshot } from '../control/protocol.js';
import { formatFlags, type ResponseFlag } from '../policy/flags.js';
import type { SidecarBoot } from './boot.js';
import type { Peer } from './identity.js';
import type { IstioMetrics, LineWriter, SpanSink } from './telemetry.js';

export interface SidecarContext {
  boot: SidecarBoot;
  self: Peer;
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
  method: string;
  path: string;
  authority: string;
  status: number;
  flags: ResponseFlag[];
  details: string;
  bytesReceived: number;
  bytesSent: number;
  upstreamHost: string | null;
  upstreamCluster: string;
  upstreamServiceTime: number | null;
  attempts: number;
  requestId: string;
  traceparent: string;
  userAgent: string | null;
  routeName: string | null;
  source: Peer;
  destination: Peer;
  destinationService: string;
}

export function recordRequest(ctx: SidecarContext, r: FinishedRequest): void {
  const flags = formatFlags(r.flags);
  const durationMs = r.endMs - r.startMs;
  ctx.metrics.requests.record(r.reporter, r.source, r.destination, r.destinationService, r.status, flags, durationMs, r.bytesReceived, r.bytesSent);
  ctx.log.text(formatAccessLog(ctx, r, flags, durationMs));
}

const str = (value: string | null): string => (value === null ? 'null' : JSON.stringify(value));

/** One access-log line: the fields of AccessLogEntry, in its order, as JSON. */
function formatAccessLog(ctx: SidecarContext, r: FinishedRequest, flags: string, durationMs: number): string {
  // Written out by hand: this runs for every request, and JSON.stringify of an object costs more.
  return `{"start_time":"${new Date(r.startMs).toISOString()}","method":${str(r.method)},"path":${str(r.path)},"protocol":"HTTP/1.1",`
    + `"response_code":${r.status},"response_flags":"${flags}","response_code_details":${str(r.details)},`
    + `"bytes_received":${r.bytesReceived},"bytes_sent":${r.bytesSent},"duration":${Math.round(durationMs)},`
    + `"upstream_service_time":${r.upstreamServiceTime ?? 'null'},"upstream_host":${str(r.upstreamHost)},"upstream_cluster":${str(r.upstreamCluster)},`
    + `"upstream_request_attempt_count":${r.attempts},"x_request_id":${str(r.requestId)},"traceparent":${str(r.traceparent)},`
    + `"authority":${str(r.authority)},"user_agent":${str(r.userAgent)},"route_name":${str(r.routeName)},"reporter":"${r.reporter}",`
    + `"workload":${str(ctx.self.workload)},"instance":${str(ctx.boot.instance)},"destination_service":${str(r.destinationService)}}`;
}

export function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
