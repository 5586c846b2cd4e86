// The access log line each sidecar writes per request: JSON with Envoy's field names,
// the ones Istio's default JSON access log carries, plus who reported it. Outlier
// ejections are logged on the same stream, as Envoy's outlier event log does.

export interface AccessLogEntry {
  start_time: string;
  method: string;
  path: string;
  protocol: string;
  response_code: number;
  response_flags: string;
  response_code_details: string;
  bytes_received: number;
  bytes_sent: number;
  duration: number;
  upstream_service_time: number | null;
  upstream_host: string | null;
  upstream_cluster: string;
  upstream_request_attempt_count: number;
  x_request_id: string;
  traceparent: string;
  authority: string;
  user_agent: string | null;
  /** The scenario rule that routed or shaped the request, as FILE:LINE. */
  route_name: string | null;
  /** mesh-sim: which side logged it (Istio's reporter), and where. */
  reporter: 'source' | 'destination';
  workload: string;
  instance: string;
  destination_service: string;
}

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
