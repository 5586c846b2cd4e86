// The access log line each sidecar writes per request: JSON with Envoy's field names,
// the ones Istio's default JSON access log carries, plus who reported it. Outlier
// ejections are logged on the same stream, as Envoy's outlier event log does.

export interface AccessLogEntry {
  // Istio's 24 default JSON fields (mesh config accessLogEncoding: JSON), named and
  // typed as Envoy writes them: numbers for codes, sizes and durations, null where
  // Envoy writes "-".
  start_time: string;
  /** The route's name (VirtualService http[].name); `default` for a default or inbound route. */
  route_name: string | null;
  /** null on a TCP connection's line, as Envoy writes "-". */
  method: string | null;
  path: string | null;
  /** `HTTP/1.1`; null for a TCP connection. */
  protocol: string | null;
  response_code: number;
  response_flags: string;
  response_code_details: string | null;
  connection_termination_details: string | null;
  upstream_transport_failure_reason: string | null;
  /** Body bytes, as Envoy's BYTES_RECEIVED and BYTES_SENT count them (headers are not counted here). */
  bytes_received: number;
  bytes_sent: number;
  duration: number;
  /** The x-envoy-upstream-service-time header: milliseconds the upstream took, as text. */
  upstream_service_time: string | null;
  x_forwarded_for: string | null;
  user_agent: string | null;
  request_id: string | null;
  authority: string | null;
  upstream_host: string | null;
  /** `outbound|9080|v1|reviews.default.svc.cluster.local`, or `inbound|9080||` with the service's port. */
  upstream_cluster: string;
  upstream_local_address: string | null;
  downstream_local_address: string | null;
  downstream_remote_address: string | null;
  /** The SNI of an mTLS connection (`outbound_.9080_._.reviews.default.svc.cluster.local`). */
  requested_server_name: string | null;
  // mesh-sim's own, after Istio's: the tries, the trace, and who logged it.
  upstream_request_attempt_count: number;
  traceparent: string;
  reporter: 'source' | 'destination';
  workload: string;
  instance: string;
  destination_service: string;
}

/** Istio's default JSON access-log fields, in the order mesh-sim writes them. */
export const ISTIO_ACCESS_LOG_FIELDS = [
  'start_time', 'route_name', 'method', 'path', 'protocol', 'response_code', 'response_flags', 'response_code_details',
  'connection_termination_details', 'upstream_transport_failure_reason', 'bytes_received', 'bytes_sent', 'duration',
  'upstream_service_time', 'x_forwarded_for', 'user_agent', 'request_id', 'authority', 'upstream_host', 'upstream_cluster',
  'upstream_local_address', 'downstream_local_address', 'downstream_remote_address', 'requested_server_name',
] as const;

export interface OutlierEventEntry {
  timestamp: string;
  type: 'CONSECUTIVE_5XX' | 'CONSECUTIVE_GATEWAY_FAILURE';
  action: 'EJECT' | 'UNEJECT' | 'NOT_EJECTED';
  cluster_name: string;
  upstream_url: string;
  num_ejections: number;
  enforced: boolean;
  eject_duration_ms: number | null;
  reason: string | null;
  instance: string;
}

export type LogRecord = { kind: 'access'; entry: AccessLogEntry } | { kind: 'outlier'; entry: OutlierEventEntry } | { kind: 'text'; text: string };

/** A line from a pod's container: a sidecar's stdout is its logs, anything else is text as written. */
export function logRecordOf(line: { container: string; stream: string; text: string }): LogRecord {
  return line.container === 'sidecar' && line.stream === 'stdout' ? parseLogLine(line.text) : { kind: 'text', text: line.text };
}

/** Reads a line a sidecar or app wrote: an access log entry, an outlier event, or plain text. */
export function parseLogLine(line: string): LogRecord {
  if (line.startsWith('{')) {
    try {
      const value = JSON.parse(line) as Record<string, unknown>;
      if (typeof value.response_code === 'number' && typeof value.start_time === 'string') return { kind: 'access', entry: value as unknown as AccessLogEntry };
      if (typeof value.action === 'string' && typeof value.cluster_name === 'string') return { kind: 'outlier', entry: value as unknown as OutlierEventEntry };
    } catch {
      // Not JSON after all: plain text.
    }
  }
  return { kind: 'text', text: line };
}
