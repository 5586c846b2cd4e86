// Istio's TEXT access-log encoding (meshConfig accessLogEncoding: TEXT, Istio's default):
// the line `kubectl logs POD -c istio-proxy` shows and Istio's "Envoy Access Logs" task
// prints, written from the same entry as the JSON encoding. The fields and their order
// are Istio's EnvoyTextLogFormat (pilot/pkg/model/telemetry_logging.go); a value Envoy
// does not have is "-", inside quotes where the format quotes it.

import type { AccessLogEntry } from './access-log.js';

export const ACCESS_LOG_ENCODINGS = ['json', 'text'] as const;
export type AccessLogEncoding = (typeof ACCESS_LOG_ENCODINGS)[number];

const value = (v: string | number | null | undefined): string => (v === null || v === undefined || v === '' ? '-' : String(v));
const quoted = (v: string | null | undefined): string => `"${value(v)}"`;

export function istioTextLine(e: AccessLogEntry): string {
  return `[${e.start_time}] "${value(e.method)} ${value(e.path)} ${value(e.protocol)}" ${e.response_code} ${value(e.response_flags)} `
    + `${value(e.response_code_details)} ${value(e.connection_termination_details)} ${quoted(e.upstream_transport_failure_reason)} `
    + `${e.bytes_received} ${e.bytes_sent} ${e.duration} ${value(e.upstream_service_time)} ${quoted(e.x_forwarded_for)} `
    + `${quoted(e.user_agent)} ${quoted(e.request_id)} ${quoted(e.authority)} ${quoted(e.upstream_host)} ${value(e.upstream_cluster)} `
    + `${value(e.upstream_local_address)} ${value(e.downstream_local_address)} ${value(e.downstream_remote_address)} `
    + `${value(e.requested_server_name)} ${value(e.route_name)}`;
}
