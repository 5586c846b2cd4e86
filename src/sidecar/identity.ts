// Who is on each side of a request, in Istio's terms, and the standard label set of
// istio_requests_total built from it, so PromQL written for Istio works here.

import { GATEWAY, NAMESPACE, serviceFqdn } from '../control/protocol.js';
import type { SidecarBoot } from './boot.js';

export interface Peer {
  workload: string;
  namespace: string;
  app: string;
  version: string;
  canonicalService: string;
  canonicalRevision: string;
}

/** A peer Istio knows nothing of: every label `unknown`, but the canonical revision Istio's default, `latest`. */
export const UNKNOWN_PEER: Peer = {
  workload: 'unknown', namespace: 'unknown', app: 'unknown', version: 'unknown', canonicalService: 'unknown', canonicalRevision: 'latest',
};

export function selfPeer(boot: SidecarBoot): Peer {
  if (boot.mode === 'gateway') {
    return { workload: GATEWAY.name, namespace: GATEWAY.namespace, app: GATEWAY.name, version: 'unknown', canonicalService: GATEWAY.name, canonicalRevision: 'latest' };
  }
  return { workload: boot.workload, namespace: boot.namespace, app: boot.service, version: boot.version, canonicalService: boot.service, canonicalRevision: boot.version };
}

export function servicePeer(service: string, version: string): Peer {
  return { workload: `${service}-${version}`, namespace: NAMESPACE, app: service, version, canonicalService: service, canonicalRevision: version };
}

/** The peer header a caller's sidecar sends: Istio's metadata exchange, in one line. */
export function encodePeer(peer: Peer): string {
  return [peer.workload, peer.namespace, peer.app, peer.version, peer.canonicalService, peer.canonicalRevision].join(';');
}

export function decodePeer(value: string | string[] | undefined): Peer {
  const text = Array.isArray(value) ? value[0] : value;
  const parts = text?.split(';');
  if (!parts || parts.length !== 6) return UNKNOWN_PEER;
  const [workload, namespace, app, version, canonicalService, canonicalRevision] = parts as [string, string, string, string, string, string];
  return { workload, namespace, app, version, canonicalService, canonicalRevision };
}

export const ISTIO_LABELS = [
  'reporter', 'source_workload', 'source_workload_namespace', 'source_principal', 'source_app', 'source_version',
  'source_canonical_service', 'source_canonical_revision', 'source_cluster', 'destination_workload',
  'destination_workload_namespace', 'destination_principal', 'destination_app', 'destination_version',
  'destination_service', 'destination_service_name', 'destination_service_namespace', 'destination_canonical_service',
  'destination_canonical_revision', 'destination_cluster', 'request_protocol', 'response_code', 'grpc_response_status',
  'response_flags', 'connection_security_policy',
] as const;

export type IstioLabelName = (typeof ISTIO_LABELS)[number];
export type IstioLabels = Record<IstioLabelName, string>;

/**
 * How a request's connection was secured, as Istio's stats plugin reports it: on the
 * destination side `mutual_tls` or `none`; the source side always says `unknown`. A
 * principal is a SPIFFE ID, known only over mutual TLS.
 */
export interface ConnectionSecurity {
  mtls: boolean;
  sourcePrincipal: string | undefined;
  destinationPrincipal: string | undefined;
}

export const PLAINTEXT: ConnectionSecurity = { mtls: false, sourcePrincipal: undefined, destinationPrincipal: undefined };

/** What one series of istio_requests_total is told apart by. */
export interface RequestLabels {
  reporter: 'source' | 'destination';
  source: Peer;
  destination: Peer;
  destinationService: string;
  status: number;
  flags: string;
  security: ConnectionSecurity;
}

export function istioLabels(r: RequestLabels): IstioLabels {
  const { reporter, source, destination, destinationService, security } = r;
  const known = destinationService !== 'unknown';
  return {
    reporter,
    source_workload: source.workload,
    source_workload_namespace: source.namespace,
    source_principal: security.sourcePrincipal ?? 'unknown',
    source_app: source.app,
    source_version: source.version,
    source_canonical_service: source.canonicalService,
    source_canonical_revision: source.canonicalRevision,
    source_cluster: 'Kubernetes',
    destination_workload: destination.workload,
    destination_workload_namespace: destination.namespace,
    destination_principal: security.destinationPrincipal ?? 'unknown',
    destination_app: destination.app,
    destination_version: destination.version,
    destination_service: known ? serviceFqdn(destinationService) : 'unknown',
    destination_service_name: destinationService,
    destination_service_namespace: known ? NAMESPACE : 'unknown',
    destination_canonical_service: destination.canonicalService,
    destination_canonical_revision: destination.canonicalRevision,
    destination_cluster: 'Kubernetes',
    request_protocol: 'http',
    response_code: String(r.status),
    grpc_response_status: '',
    response_flags: r.flags,
    connection_security_policy: reporter === 'destination' ? (security.mtls ? 'mutual_tls' : 'none') : 'unknown',
  };
}
