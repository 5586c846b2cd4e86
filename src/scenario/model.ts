// The scenario as mesh-sim computes with it: every field of the contract parsed,
// defaulted and cross-checked. Durations are milliseconds, sizes bytes, percentages
// 0..100. `where` fields hold `FILE:LINE` of the rule, so a failure can name its cause.

import type { CheckExpr } from './check-expr.js';

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
  versions: VersionSpec[];
  where: string;
}

export type StringMatchKind = 'exact' | 'prefix' | 'regex';
export interface StringMatch {
  kind: StringMatchKind;
  value: string;
}
export interface HeaderMatch extends StringMatch {
  name: string;
}
export interface RouteMatch {
  headers: HeaderMatch[];
  path: StringMatch | undefined;
}
export interface WeightedVersion {
  version: string;
  weight: number;
}
export interface Route {
  /** Any one of these matching selects the route; none means every request. */
  matches: RouteMatch[];
  destinations: WeightedVersion[];
  where: string;
}

export const RETRY_CONDITIONS = [
  '5xx', 'gateway-error', 'reset', 'connect-failure', 'retriable-4xx',
  'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes',
] as const;
export type RetryCondition = (typeof RETRY_CONDITIONS)[number];

/** Istio's default: 2 retries on these, so an HTTP 503 from the app is not retried. */
export const DEFAULT_RETRY_ON: readonly RetryCondition[] = ['connect-failure', 'refused-stream', 'unavailable', 'cancelled'];

export interface RetryPolicy {
  /** Retries after the first try (Istio's `attempts`): 2 means up to 3 tries. */
  attempts: number;
  perTryTimeoutMs: number | undefined;
  retryOn: RetryCondition[];
  /** Status codes named in retryOn (Istio's retriable-status-codes). */
  statusCodes: number[];
  where: string | undefined;
}

export interface DelayFault {
  percentage: number;
  fixedDelayMs: number;
  where: string;
}
export interface AbortFault {
  percentage: number;
  httpStatus: number;
  where: string;
}
export interface MirrorPolicy {
  version: string;
  percentage: number;
  where: string;
}
export interface ConnectionPool {
  maxConnections: number;
  http1MaxPendingRequests: number;
  where: string | undefined;
}
export interface OutlierDetection {
  consecutive5xxErrors: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
  where: string;
}

export interface MeshPolicy {
  routes: Route[];
  timeoutMs: number | undefined;
  timeoutWhere: string | undefined;
  retries: RetryPolicy;
  delay: DelayFault | undefined;
  abort: AbortFault | undefined;
  mirror: MirrorPolicy | undefined;
  connectionPool: ConnectionPool;
  outlierDetection: OutlierDetection | undefined;
}

/** Istio leaves both limits at 2^32-1: no circuit breaking until you ask for it. */
export const UNLIMITED = 4_294_967_295;

export const DEFAULT_OUTLIER_DETECTION = {
  consecutive5xxErrors: 5,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionPercent: 10,
} as const;

export function defaultMeshPolicy(): MeshPolicy {
  return {
    routes: [],
    timeoutMs: undefined,
    timeoutWhere: undefined,
    retries: { attempts: 2, perTryTimeoutMs: undefined, retryOn: [...DEFAULT_RETRY_ON], statusCodes: [], where: undefined },
    delay: undefined,
    abort: undefined,
    mirror: undefined,
    connectionPool: { maxConnections: UNLIMITED, http1MaxPendingRequests: UNLIMITED, where: undefined },
    outlierDetection: undefined,
  };
}

export type Arrival = 'poisson' | 'uniform';

export interface TrafficFlow {
  /** Stable identity of the flow: its name, or its position when unnamed. */
  id: string;
  name: string | undefined;
  to: string;
  path: string;
  method: string;
  rps: number;
  arrival: Arrival;
  headers: Record<string, string>;
  where: string;
}

export interface InstanceTarget {
  service: string;
  version: string | undefined;
  replica: number | undefined;
}

export interface TimelineEvent {
  index: number;
  atMs: number;
  say: string | undefined;
  /** A JSON merge patch (RFC 7386) on the scenario's document. */
  set: Record<string, unknown> | undefined;
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
  /** Policies the file sets, by destination service; see policyFor for the defaults. */
  mesh: Record<string, MeshPolicy>;
  traffic: TrafficFlow[];
  timeline: TimelineEvent[];
  checks: LocatedCheck[];
  /** The document as plain data: what timeline `set` patches apply to. */
  document: Record<string, unknown>;
}

export function policyFor(scenario: Pick<Scenario, 'mesh'>, service: string): MeshPolicy {
  return scenario.mesh[service] ?? defaultMeshPolicy();
}

export function findService(scenario: Pick<Scenario, 'services'>, name: string): ServiceSpec | undefined {
  return scenario.services.find((s) => s.name === name);
}

export function findVersion(service: ServiceSpec, version: string): VersionSpec | undefined {
  return service.versions.find((v) => v.name === version);
}
