// What the control plane serves: to each sidecar, the services with their endpoints
// and the mesh policies (like istiod's CDS/EDS/RDS in one snapshot); to each sample
// workload, its behaviour. Sent as JSON over a long poll; a poll naming the version it
// holds acknowledges that version, as an xDS request carrying version_info does.

import type { Behaviour } from '../scenario/model.js';
import type { MeshConfig } from '../policy/config.js';

export interface Endpoint {
  instance: string;
  version: string;
  host: string;
  port: number;
  /** The pod has a sidecar: Istio's automatic mTLS speaks mutual TLS to it. */
  sidecar: boolean;
}

export interface ServiceEntry {
  name: string;
  /** The service's port in the mesh: what callers write in the authority. */
  port: number;
  /** The account its pods run as: the SPIFFE ID a caller checks they present. */
  serviceAccount?: string;
  endpoints: Endpoint[];
}

export interface SidecarSnapshot {
  version: number;
  /** Bumped to ask every sidecar to send its telemetry before it acknowledges this version. */
  flush: number;
  seed: number;
  services: Record<string, ServiceEntry>;
  /** The Istio resources in force, compiled: routes per host, traffic policies per cluster. */
  config: MeshConfig;
}

/** What a node's one poll brings back for all its pods (src/control/node-client.ts). */
export interface NodeSnapshot {
  version: number;
  sidecar: SidecarSnapshot;
  /** Each hosted workload's behaviour, by instance. */
  workloads: Record<string, WorkloadSnapshot>;
}

export interface WorkloadSnapshot {
  version: number;
  seed: number;
  behaviour: Behaviour;
  /** Each service's port, to write calls' authorities (`reviews:9080`). */
  ports: Record<string, number>;
}

export const NAMESPACE = 'default';
export const GATEWAY = { name: 'istio-ingressgateway', namespace: 'istio-system' } as const;

export function serviceFqdn(service: string): string {
  return `${service}.${NAMESPACE}.svc.cluster.local`;
}

/** A service name from an authority: `reviews`, `reviews:9080`, `reviews.default.svc.cluster.local:9080`. */
export function serviceFromAuthority(authority: string): string {
  const host = authority.startsWith('[') ? authority : authority.split(':')[0]!;
  const suffix = `.${NAMESPACE}.svc.cluster.local`;
  if (host.endsWith(suffix)) return host.slice(0, -suffix.length);
  if (host.endsWith(`.${NAMESPACE}.svc`)) return host.slice(0, -`.${NAMESPACE}.svc`.length);
  if (host.endsWith(`.${NAMESPACE}`)) return host.slice(0, -`.${NAMESPACE}`.length);
  return host;
}

/** Headers the mesh uses between sidecars and sample workloads. */
export const HEADER = {
  /** The request's identity (flow.n/call...), from which every decision is drawn. */
  requestKey: 'x-mesh-sim-request',
  /** Which try of the request this is, 1-based, as Envoy sets it. */
  attempt: 'x-envoy-attempt-count',
  /** The calling workload, as Istio's metadata exchange tells the callee. */
  peer: 'x-mesh-sim-peer',
  requestId: 'x-request-id',
  upstreamServiceTime: 'x-envoy-upstream-service-time',
} as const;

/** On an app's answer: it is degraded, having taken the fallback of a call to this service. */
export const DEGRADED_HEADER = 'x-mesh-sim-degraded';

/** Long polls end after this long without news, so dead peers are noticed. */
export const POLL_TIMEOUT_MS = 20_000;
