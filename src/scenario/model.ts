// The scenario as mesh-sim computes with it: every field of the contract parsed,
// defaulted and cross-checked. Durations are milliseconds, sizes bytes, percentages
// 0..100. `where` fields hold `FILE:LINE` of the rule, so a failure can name its cause.
// Mesh policy is Istio's resources (the `mesh:` shorthand compiled to them), and the
// configuration they compile to.

import type { CheckExpr } from './check-expr.js';
import type { MeshConfig } from '../policy/config.js';
import type { IstioResource } from '../istio/resources.js';

export type LatencySpec =
  | { kind: 'constant'; ms: number }
  | { kind: 'normal'; meanMs: number; stddevMs: number }
  | { kind: 'percentiles'; p50Ms: number; p99Ms: number };

export interface Call {
  service: string;
  path: string;
  method: string;
  optional: boolean;
  /** 1..100: the share of requests that make this call. */
  probability: number;
  /** The app's own client timeout for this call; undefined: none of its own. */
  timeoutMs: number | undefined;
  /** The app's own retries after a failed call (on top of the mesh's). */
  retries: number;
  /** On failure the app answers this status (a degraded page) instead of 502. */
  fallback: number | undefined;
}

export type CallStep = { kind: 'call'; call: Call } | { kind: 'parallel'; calls: Call[] };

/** What one version of a service does per request. */
export interface Behaviour {
  latency: LatencySpec;
  errorRate: number;
  errorStatus: number;
  responseSize: number;
  calls: CallStep[];
  image: string | undefined;
  command: string | undefined;
}

export interface VersionSpec extends Behaviour {
  name: string;
  replicas: number;
  where: string;
}

export interface ServiceSpec {
  name: string;
  port: number | undefined;
  /** false: a workload outside the mesh (no sidecar: plaintext, no identity, no telemetry of its own). */
  sidecar: boolean;
  /** The Kubernetes service account its pods run as: their SPIFFE identity (default: the service's name). */
  serviceAccount: string;
  /** tcp: an echo service, reached by traffic flows over TCP and proxied as Envoy's tcp_proxy does. */
  protocol: 'http' | 'tcp';
  versions: VersionSpec[];
  where: string;
}

export type Arrival = 'poisson' | 'uniform';

export interface TrafficFlow {
  /** Stable identity of the flow: its name, or `flow-N` (N from 1 in file order). */
  id: string;
  name: string | undefined;
  to: string;
  path: string;
  method: string;
  /** Open loop: arrivals per second; with `concurrency`, a cap. Undefined: as fast as answers come. */
  rps: number | undefined;
  /** Closed loop: requests kept in flight (fortio's -c). */
  concurrency: number | undefined;
  /** Requests to send in all (fortio's -n); undefined: until the run ends. */
  requests: number | undefined;
  arrival: Arrival;
  headers: Record<string, string>;
  where: string;
}

export interface InstanceTarget {
  service: string;
  version: string | undefined;
  replica: number | undefined;
}

/** What `kubectl delete` names. */
export interface ResourceRef {
  kind: string;
  namespace: string;
  name: string;
}

export interface TimelineEvent {
  index: number;
  atMs: number;
  say: string | undefined;
  /** A JSON merge patch (RFC 7386) on the scenario's document. */
  set: Record<string, unknown> | undefined;
  /** Istio resources created or replaced (by kind, namespace and name), as kubectl apply. */
  apply: IstioResource[] | undefined;
  /** Istio resources removed, as kubectl delete. */
  delete: ResourceRef[] | undefined;
  kill: InstanceTarget | undefined;
  restart: InstanceTarget | undefined;
  check: LocatedCheck | undefined;
  where: string;
}

export interface LocatedCheck {
  expr: CheckExpr;
  where: string;
}

export interface Scenario {
  file: string;
  name: string;
  description: string;
  seed: number | undefined;
  durationMs: number | undefined;
  services: ServiceSpec[];
  /** The Istio resources in force: the `mesh:` shorthand's, then `istio:`'s and `include:`'s, as applied. */
  istio: IstioResource[];
  /** What they compile to: what the sidecars are sent. */
  config: MeshConfig;
  traffic: TrafficFlow[];
  timeline: TimelineEvent[];
  checks: LocatedCheck[];
  /** The document as plain data: what timeline `set` patches apply to. */
  document: Record<string, unknown>;
}

export function findService(scenario: Pick<Scenario, 'services'>, name: string): ServiceSpec | undefined {
  return scenario.services.find((s) => s.name === name);
}

export function findVersion(service: ServiceSpec, version: string): VersionSpec | undefined {
  return service.versions.find((v) => v.name === version);
}
