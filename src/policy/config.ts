// The mesh configuration the sidecars compute with: Istio's VirtualServices and
// DestinationRules compiled per host, as istiod compiles them into Envoy's routes and
// clusters. Every rule keeps where it came from (the resource, its `http[i]`, and
// FILE:LINE), so an outcome can name its cause. Plain data: it travels to the sidecars
// as JSON, and every decision made with it is a pure function in this folder.

import type { AuthorizationConfig, PeerAuthenticationConfig } from './security.js';

export const RETRY_CONDITIONS = [
  '5xx', 'gateway-error', 'reset', 'connect-failure', 'retriable-4xx',
  'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes', 'reset-before-request',
] as const;
export type RetryCondition = (typeof RETRY_CONDITIONS)[number];

/**
 * Istio's default retry policy: 2 retries on these. Istio also names
 * retriable-status-codes, but with no codes since EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY
 * became the default: an HTTP 503 from the app is not retried.
 */
export const DEFAULT_RETRY_ON: readonly RetryCondition[] = ['connect-failure', 'refused-stream', 'unavailable', 'cancelled'];
export const DEFAULT_RETRY_ATTEMPTS = 2;
/** Envoy's default base interval between retries (full jitter, doubling, capped at 10x). */
export const DEFAULT_BACKOFF_MS = 25;

/** Istio leaves these limits at 2^32-1: no circuit breaking until you ask for it. */
export const UNLIMITED = 4_294_967_295;

export const DEFAULT_OUTLIER_DETECTION = {
  consecutive5xxErrors: 5,
  consecutiveGatewayErrors: 0,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionPercent: 10,
  minHealthPercent: 0,
} as const;

/** The resource a rule came from. */
export interface Origin {
  kind: string;
  name: string;
  namespace: string;
  /** FILE:LINE of the resource (or of the `mesh:` entry it was compiled from). */
  where: string;
  /** Compiled from the scenario's `mesh:` shorthand for this service. */
  shorthand?: boolean;
}

/** One rule of a resource: `VirtualService reviews http[0]`, at FILE:LINE. */
export interface RuleRef {
  origin: Origin | undefined;
  /** `http[0]`, `trafficPolicy.connectionPool`, `subsets[v1].trafficPolicy`; `default` when no resource applies. */
  rule: string;
  where: string | undefined;
}

/** `VirtualService reviews http[0]`, or `default route` where no VirtualService routes the host. */
export function ruleLabel(ref: RuleRef): string {
  return ref.origin ? `${ref.origin.kind} ${ref.origin.name} ${ref.rule}` : ref.rule;
}

/** A route as spans and the Config pane name it: its rule, and for a default route its host. */
export function routeLabel(route: HttpRoute): string {
  return route.ref.origin ? ruleLabel(route.ref) : `default route ${route.destinations[0]?.host ?? ''}`.trim();
}

export type StringMatchKind = 'exact' | 'prefix' | 'regex' | 'present';
export interface StringMatch {
  kind: StringMatchKind;
  value: string;
  /** uri with ignoreUriCase. */
  ignoreCase?: boolean;
}
export interface NamedMatch {
  name: string;
  match: StringMatch;
}

/** Istio's HTTPMatchRequest: every condition given must hold. */
export interface RequestMatch {
  name?: string;
  uri?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  scheme?: StringMatch;
  headers: NamedMatch[];
  withoutHeaders: NamedMatch[];
  queryParams: NamedMatch[];
  port?: number;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
}

export interface RouteDestination {
  /** A service of the mesh, by its short name. */
  host: string;
  subset: string | undefined;
  weight: number;
  /** Header operations for requests sent to this destination, replacing the route's. */
  requestHeaders?: HeaderOperations | undefined;
  responseHeaders?: HeaderOperations | undefined;
}

export interface RetryPolicy {
  /** Retries after the first try (Istio's `attempts`): 2 means up to 3 tries; 0 turns retries off. */
  attempts: number;
  perTryTimeoutMs: number | undefined;
  retryOn: RetryCondition[];
  /** Status codes named in retryOn (Istio's retriable-status-codes). */
  statusCodes: number[];
  backoffMs: number;
  /** Prefer hosts not tried yet for this request (Envoy's previous_hosts predicate). */
  ignorePreviousHosts: boolean;
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
  host: string;
  subset: string | undefined;
  percentage: number;
  where: string;
}
export interface HeaderOperations {
  set: Record<string, string>;
  add: Record<string, string>;
  remove: string[];
}

/** One `http[]` rule of a VirtualService, as Envoy's route entry. */
export interface HttpRoute {
  ref: RuleRef;
  name: string | undefined;
  /** Any one matching selects the route; none means every request. */
  matches: RequestMatch[];
  destinations: RouteDestination[];
  timeoutMs: number | undefined;
  timeoutWhere: string | undefined;
  retries: RetryPolicy;
  fault: { delay?: DelayFault; abort?: AbortFault };
  mirrors: MirrorPolicy[];
  requestHeaders: HeaderOperations | undefined;
  responseHeaders: HeaderOperations | undefined;
  rewrite: { uri?: string; authority?: string } | undefined;
  redirect: { uri?: string; authority?: string; code: number } | undefined;
  directResponse: { status: number; body: string | undefined } | undefined;
}

/** One of a VirtualService's tcp[]: connections to one of `ports` (any, when empty) go to a weighted destination. */
export interface TcpRoute {
  ref: RuleRef;
  ports: number[];
  destinations: RouteDestination[];
}

/** The routes for one host: its VirtualService's http[] (or the default route), and its tcp[]. */
export interface VirtualHost {
  host: string;
  origin: Origin | undefined;
  routes: HttpRoute[];
  tcpRoutes?: TcpRoute[];
}

export interface ConnectionPoolSettings {
  maxConnections: number;
  http1MaxPendingRequests: number;
  http2MaxRequests: number;
  /** 0: unlimited (keep-alive). */
  maxRequestsPerConnection: number;
  maxRetries: number;
  connectTimeoutMs: number | undefined;
  idleTimeoutMs: number | undefined;
  /** `DestinationRule reviews trafficPolicy.connectionPool`, named as a failure's cause. */
  label: string | undefined;
  where: string | undefined;
}

export interface OutlierDetectionSettings {
  consecutive5xxErrors: number;
  consecutiveGatewayErrors: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
  minHealthPercent: number;
  label: string;
  where: string;
}

export type LoadBalancerKind = 'UNSPECIFIED' | 'RANDOM' | 'ROUND_ROBIN' | 'LEAST_REQUEST';

export interface TrafficPolicy {
  connectionPool: ConnectionPoolSettings;
  /** DestinationRule tls.mode: undefined is Istio's automatic mTLS (mutual TLS to pods with a sidecar). */
  tls: 'ISTIO_MUTUAL' | 'DISABLE' | undefined;
  outlierDetection: OutlierDetectionSettings | undefined;
  loadBalancer: LoadBalancerKind;
  /** FILE:LINE of the traffic policy this was merged from, if any. */
  where: string | undefined;
}

export interface Subset {
  name: string;
  labels: Record<string, string>;
  policy: TrafficPolicy;
}

/** A DestinationRule compiled for one host: the clusters to it and their policies. */
export interface DestinationPolicy {
  host: string;
  origin: Origin | undefined;
  policy: TrafficPolicy;
  subsets: Record<string, Subset>;
}

export interface MeshConfig {
  virtualHosts: Record<string, VirtualHost>;
  destinations: Record<string, DestinationPolicy>;
  peerAuthentications: PeerAuthenticationConfig[];
  authorizations: AuthorizationConfig[];
}

export function emptyMeshConfig(): MeshConfig {
  return { virtualHosts: {}, destinations: {}, peerAuthentications: [], authorizations: [] };
}

export function defaultRetryPolicy(where?: string): RetryPolicy {
  return {
    attempts: DEFAULT_RETRY_ATTEMPTS,
    perTryTimeoutMs: undefined,
    retryOn: [...DEFAULT_RETRY_ON],
    statusCodes: [],
    backoffMs: DEFAULT_BACKOFF_MS,
    ignorePreviousHosts: true,
    where,
  };
}

export function defaultConnectionPool(): ConnectionPoolSettings {
  return {
    maxConnections: UNLIMITED,
    http1MaxPendingRequests: UNLIMITED,
    http2MaxRequests: UNLIMITED,
    maxRequestsPerConnection: 0,
    maxRetries: UNLIMITED,
    connectTimeoutMs: undefined,
    idleTimeoutMs: undefined,
    label: undefined,
    where: undefined,
  };
}

export function defaultTrafficPolicy(): TrafficPolicy {
  return { connectionPool: defaultConnectionPool(), tls: undefined, outlierDetection: undefined, loadBalancer: 'UNSPECIFIED', where: undefined };
}

/** The route Istio gives a host no VirtualService names: all of it, default retries, no timeout. */
export function defaultRoute(host: string): HttpRoute {
  return {
    ref: { origin: undefined, rule: 'default route', where: undefined },
    name: undefined,
    matches: [],
    destinations: [{ host, subset: undefined, weight: 100 }],
    timeoutMs: undefined,
    timeoutWhere: undefined,
    retries: defaultRetryPolicy(),
    fault: {},
    mirrors: [],
    requestHeaders: undefined,
    responseHeaders: undefined,
    rewrite: undefined,
    redirect: undefined,
    directResponse: undefined,
  };
}

export function virtualHostFor(config: MeshConfig, host: string): VirtualHost {
  return config.virtualHosts[host] ?? { host, origin: undefined, routes: [defaultRoute(host)] };
}

export function destinationFor(config: MeshConfig, host: string): DestinationPolicy {
  return config.destinations[host] ?? { host, origin: undefined, policy: defaultTrafficPolicy(), subsets: {} };
}

/** Does a pod of `service`, version `version` carry every label of a subset's selector (its pods carry app and version)? */
export function labelsSelect(labels: Record<string, string>, service: string, version: string): boolean {
  return Object.entries(labels).every(([k, v]) => (k === 'app' ? v === service : k === 'version' ? v === version : false));
}

/** The traffic policy of one cluster: a subset's, merged over its host's as Istio merges them. */
export function clusterPolicy(config: MeshConfig, host: string, subset: string | undefined): TrafficPolicy {
  const destination = destinationFor(config, host);
  if (subset === undefined) return destination.policy;
  return destination.subsets[subset]?.policy ?? destination.policy;
}
