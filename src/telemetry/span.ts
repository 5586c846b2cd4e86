// A span as mesh-sim keeps it, and the attribute names its sidecars set: OpenTelemetry's
// semantic conventions where they exist, Istio's tag names where Istio has one.

export type SpanKind = 'internal' | 'server' | 'client' | 'producer' | 'consumer';
export type AttributeValue = string | number | boolean;

export interface Span {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: SpanKind;
  /** Milliseconds since the epoch, with sub-millisecond precision. */
  startMs: number;
  endMs: number;
  /** The resource's service.name: the canonical service (`reviews`). */
  service: string;
  attributes: Record<string, AttributeValue>;
  error: boolean;
}

/** Attribute keys the sidecars write and the collector reads. */
/** The `telemetry.sdk.name` (and scope name) every sidecar puts on its spans: what marks them as the mesh's. */
export const SIDECAR_SDK = 'mesh-sim-sidecar';

export const ATTR = {
  method: 'http.request.method',
  path: 'url.path',
  status: 'http.response.status_code',
  authority: 'server.address',
  /** Istio's tag names. */
  canonicalService: 'istio.canonical_service',
  canonicalRevision: 'istio.canonical_revision',
  upstreamCluster: 'upstream_cluster',
  responseFlags: 'response_flags',
  requestId: 'guid:x-request-id',
  /** The service a client span calls (OpenTelemetry's peer.service). */
  peerService: 'peer.service',
  /** On a server span: the calling workload, from Istio's metadata exchange. */
  peerWorkload: 'peer.workload',
  /** The sidecar that recorded the span (a resource attribute, inherited by each span). */
  instance: 'service.instance.id',
  attempt: 'mesh_sim.attempt',
  retry: 'mesh_sim.retry',
  /** On a client span: this attempt decided the request's answer (one per request). */
  final: 'mesh_sim.final',
  /** On a client span: the version the route chose. */
  destinationVersion: 'mesh_sim.destination_version',
  fault: 'mesh_sim.fault',
  /** On a client span: the instance that answered this attempt. */
  serverInstance: 'server.instance',
  /** On a client span: a mirrored copy, its answer discarded. */
  mirror: 'mesh_sim.mirror',
  /** FILE:LINE of the scenario rule that shaped this span's outcome. */
  rule: 'mesh_sim.rule',
  /** That rule by name: `VirtualService reviews http[0].fault.delay`. */
  ruleName: 'mesh_sim.rule_name',
  /** On a client span: the route that matched, `VirtualService reviews http[0]` or `default route`. */
  route: 'mesh_sim.route',
  /** The request's identity, from which its decisions were drawn. */
  requestKey: 'mesh_sim.request',
  /** On a server span: the caller's SPIFFE ID, when it came over mutual TLS (Istio's peer identity). */
  peerPrincipal: 'istio.source_principal',
  /** On a client span: this attempt went over mutual TLS. */
  mtls: 'mesh_sim.mtls',
  /** How the connection was secured: `mutual_tls` or `none` (Istio's connection_security_policy). */
  connectionSecurity: 'istio.connection_security_policy',
  /**
   * A TCP connection a sidecar proxied, reported for the counts (as Kiali reads istio_tcp_*),
   * not a trace: Envoy traces no TCP, so these never reach the traces or a forwarded collector.
   */
  tcp: 'mesh_sim.tcp_connection',
} as const;

/** A connection record (ATTR.tcp): counted, never traced. */
export function isConnectionRecord(span: Span): boolean {
  return span.attributes[ATTR.tcp] === true;
}

export function attrString(span: Span, key: string): string | undefined {
  const v = span.attributes[key];
  return v === undefined ? undefined : String(v);
}

export function attrNumber(span: Span, key: string): number | undefined {
  const v = span.attributes[key];
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return undefined;
}

/** The HTTP status, under OpenTelemetry's current name or its older `http.status_code`. */
export function statusOf(span: Span): number | undefined {
  return attrNumber(span, ATTR.status) ?? attrNumber(span, 'http.status_code');
}

export function durationMs(span: Span): number {
  return span.endMs - span.startMs;
}

/** The error rule of Istio's dashboards, and mesh-sim's: a 5xx, or no answer at all. */
export function isErrorStatus(status: number | undefined): boolean {
  return status === undefined || status === 0 || status >= 500;
}
