// From Istio resources to the mesh configuration sidecars compute with, as istiod turns
// VirtualServices and DestinationRules into Envoy's routes and clusters: Istio's
// defaults where a field is absent, Istio's precedence (a subset's traffic policy over
// its host's, port-level settings over both), and every reference checked: hosts that
// are no service, subsets no DestinationRule defines, labels that select no pod.

import type { ServiceSpec } from '../scenario/model.js';
import { didYouMean } from '../scenario/suggest.js';
import type { Path } from '../scenario/problems.js';
import { formatDuration } from '../scenario/units.js';
import {
  DEFAULT_OUTLIER_DETECTION, UNLIMITED, defaultConnectionPool, defaultRetryPolicy, defaultTrafficPolicy, emptyMeshConfig, labelsSelect,
  type ConnectionPoolSettings, type DestinationPolicy, type HeaderOperations, type HttpRoute, type TcpRoute, type LoadBalancerKind, type MeshConfig,
  type MirrorPolicy, type OutlierDetectionSettings, type RequestMatch, type RetryPolicy, type RouteDestination, type Subset,
  type TrafficPolicy, type VirtualHost,
} from '../policy/config.js';
import { ejectableHosts } from '../policy/outlier.js';
import { retryDecision } from '../policy/retry.js';
import { describeResource, NAMESPACE, type IstioResource } from './resources.js';
import { compileAuthorizationPolicies, compilePeerAuthentications } from './compile-security.js';
import type {
  RawConnectionPool, RawDestinationRule, RawHeaders, RawHttpMatch, RawHttpRoute, RawTcpRoute, RawDestination, RawOutlierDetection, RawTrafficPolicy, RawVirtualService,
} from './schema.js';

const FQDN_SUFFIXES = [`.${NAMESPACE}.svc.cluster.local`, `.${NAMESPACE}.svc`, `.${NAMESPACE}`];

/** The service a host names: `reviews`, `reviews.default`, `reviews.default.svc.cluster.local`; undefined otherwise. */
export function serviceOfHost(host: string, services: ReadonlySet<string>): string | undefined {
  if (services.has(host)) return host;
  for (const suffix of FQDN_SUFFIXES) {
    if (host.endsWith(suffix) && services.has(host.slice(0, -suffix.length))) return host.slice(0, -suffix.length);
  }
  return undefined;
}

/** What mesh-sim knows of the services a configuration speaks of. */
export interface ServiceIndex {
  names: ReadonlySet<string>;
  byName: ReadonlyMap<string, ServiceSpec>;
}

export function indexServices(services: readonly ServiceSpec[]): ServiceIndex {
  return { names: new Set(services.map((s) => s.name)), byName: new Map(services.map((s) => [s.name, s])) };
}

export function servicePort(spec: ServiceSpec | undefined): number {
  return spec?.port ?? 8080;
}

/** Resolves a host, or reports why it names nothing here. */
function resolveHost(host: string, index: ServiceIndex, resource: IstioResource, path: Path): string | undefined {
  const service = serviceOfHost(host, index.names);
  if (service) return service;
  if (host.includes('*')) {
    resource.report.error(path, `mesh-sim cannot honour the wildcard host \`${host}\`: name one service (${[...index.names].join(', ')})`);
  } else {
    const short = host.split('.')[0]!;
    const other = host.split('.')[1];
    const why = other && other !== NAMESPACE && index.names.has(short)
      ? `\`${short}\` is in namespace ${NAMESPACE}, not ${other}`
      : `no service \`${host}\`${didYouMean(short, index.names)}; services: ${[...index.names].join(', ')}`;
    resource.report.error(path, why);
  }
  return undefined;
}

/** `DestinationRule reviews subsets[v1].trafficPolicy.connectionPool`: a rule as a failure's cause names it. */
function ruleName(resource: IstioResource, path: Path): string {
  let out = '';
  for (let i = 1; i < path.length; i++) {
    const part = path[i]!;
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return `${describeResource(resource)} ${out}`;
}

export interface CompileResult {
  config: MeshConfig;
  /** Hosts each resource configures, for the shorthand-or-Istio rule and the Config pane. */
  hostsOf: Map<IstioResource, string[]>;
}

/** Compiles resources in force (in the order given) against the scenario's services. */
export function compileResources(resources: readonly IstioResource[], services: readonly ServiceSpec[]): CompileResult {
  const index = indexServices(services);
  const config = emptyMeshConfig();
  const hostsOf = new Map<IstioResource, string[]>();
  const routedBy = new Map<string, IstioResource>();
  const ruledBy = new Map<string, IstioResource>();
  const placed: Placed = new Map();
  // DestinationRules first: routes are checked against the subsets they define.
  for (const resource of resources) {
    if (resource.kind !== 'DestinationRule') continue;
    const spec = resource.spec as RawDestinationRule;
    const host = resolveHost(spec.host, index, resource, ['spec', 'host']);
    if (!host) continue;
    hostsOf.set(resource, [host]);
    const earlier = ruledBy.get(host);
    if (earlier) {
      resource.report.error(['spec', 'host'], `${describeResource(earlier)} (${earlier.origin.where}) already sets the traffic policy for ${host}; give each host one DestinationRule`);
      continue;
    }
    ruledBy.set(host, resource);
    config.destinations[host] = compileDestinationRule(resource, spec, host, index, placed);
  }
  for (const resource of resources) {
    if (resource.kind !== 'VirtualService') continue;
    const spec = resource.spec as RawVirtualService;
    const hosts: string[] = [];
    spec.hosts.forEach((h, i) => {
      const host = resolveHost(h, index, resource, ['spec', 'hosts', i]);
      if (!host) return;
      const earlier = routedBy.get(host);
      if (earlier && earlier !== resource) {
        resource.report.error(['spec', 'hosts', i], `${describeResource(earlier)} (${earlier.origin.where}) already routes ${host}: Istio's sidecars use only one VirtualService per host (istioctl analyze: IST0109)`);
        return;
      }
      routedBy.set(host, resource);
      hosts.push(host);
    });
    hostsOf.set(resource, hosts);
    for (const host of hosts) config.virtualHosts[host] = compileVirtualService(resource, spec, host, index, config);
  }
  warnUnejectable(config, index, placed);
  config.peerAuthentications = compilePeerAuthentications(resources, services);
  config.authorizations = compileAuthorizationPolicies(resources, services);
  return { config, hostsOf };
}

// ---- VirtualService -------------------------------------------------------------

function compileVirtualService(resource: IstioResource, spec: RawVirtualService, host: string, index: ServiceIndex, config: MeshConfig): VirtualHost {
  const routes: HttpRoute[] = [];
  const http = spec.http ?? [];
  const tcp = index.byName.get(host)?.protocol === 'tcp';
  if (http.length === 0 && !tcp) {
    resource.report.warn(['spec', 'hosts'], `no \`http\` routes: requests to ${host} match nothing and answer 404 NR`);
  }
  if (spec.tcp && !tcp) resource.report.warn(['spec', 'tcp'], `${host} speaks HTTP: its \`tcp\` routes apply to no connection (declare it \`protocol: tcp\` to route it as TCP)`);
  if (http.length > 0 && tcp) resource.report.warn(['spec', 'http'], `${host} is a tcp service: its \`http\` routes apply to no request`);
  const tcpRoutes = (spec.tcp ?? []).map((raw, i): TcpRoute => {
    const path: Path = ['spec', 'tcp', i];
    return {
      ref: { origin: resource.origin, rule: `tcp[${i}]`, where: resource.report.where(path) },
      ports: (raw.match ?? []).flatMap((m) => (m.port === undefined ? [] : [m.port])),
      destinations: compileDestinations(resource, raw, path, index, config),
    };
  });
  http.forEach((raw, i) => {
    const path: Path = ['spec', 'http', i];
    const route = compileRoute(resource, raw, path, index, config);
    const catchAll = routes.find((r) => r.matches.length === 0);
    if (catchAll) {
      resource.report.warn(path, `this route is never used: the route before it (${catchAll.ref.where}) matches every request (first match wins)`);
    }
    routes.push(route);
  });
  return { host, origin: resource.origin, routes, ...(tcpRoutes.length > 0 ? { tcpRoutes } : {}) };
}

function compileRoute(resource: IstioResource, raw: RawHttpRoute, path: Path, index: ServiceIndex, config: MeshConfig): HttpRoute {
  const where = resource.report.where(path);
  const matches = (raw.match ?? []).map((m, j) => compileMatch(m, resource, [...path, 'match', j]));
  const destinations = compileDestinations(resource, raw, path, index, config);
  const retries = compileRetries(resource, raw, path);
  const timeoutMs = raw.timeout === undefined || raw.timeout === 0 ? undefined : raw.timeout;
  const fault: HttpRoute['fault'] = {};
  if (raw.fault?.delay && raw.fault.delay.fixedDelay !== undefined) {
    const d = raw.fault.delay;
    const percentage = d.percentage ?? d.percent ?? 0;
    if (d.percentage === undefined && d.percent === undefined) {
      resource.report.warn([...path, 'fault', 'delay'], 'no request is delayed: without `percentage`, Istio injects the delay into none (write `percentage: {value: 100}`)');
    }
    fault.delay = { percentage, fixedDelayMs: d.fixedDelay!, where: resource.report.where([...path, 'fault', 'delay']) };
  }
  if (raw.fault?.abort && raw.fault.abort.httpStatus !== undefined) {
    const a = raw.fault.abort;
    if (a.percentage === undefined) {
      resource.report.warn([...path, 'fault', 'abort'], 'no request is aborted: without `percentage`, Istio aborts none (write `percentage: {value: 100}`)');
    }
    fault.abort = { percentage: a.percentage ?? 0, httpStatus: a.httpStatus!, where: resource.report.where([...path, 'fault', 'abort']) };
    if (retries.attempts > 0 && raw.retries) {
      resource.report.warn([...path, 'retries'], (a.percentage ?? 0) >= 100
        ? 'these retries never happen: every request is aborted by fault.abort, and injected aborts are not retried'
        : `injected aborts (${a.percentage ?? 0} % of requests) are not retried: the fault is decided before the request leaves the caller`);
    }
  }
  if (raw.retries && retries.attempts > 0) warnUnretriedErrors(resource, destinations, retries, [...path, 'retries'], index);
  if (timeoutMs !== undefined && retries.perTryTimeoutMs !== undefined && retries.perTryTimeoutMs >= timeoutMs && retries.attempts > 0) {
    resource.report.warn([...path, 'retries'], `perTryTimeout ${formatDuration(retries.perTryTimeoutMs)} is not shorter than timeout ${formatDuration(timeoutMs)}: the whole request times out before a retry can start`);
  }
  const mirrors: MirrorPolicy[] = [];
  const mirrorOf = (dest: { host: string; subset?: string | undefined }, percentage: number, at: Path) => {
    const host = resolveHost(dest.host, index, resource, [...at, 'host']);
    if (!host) return;
    checkSubset(resource, host, dest.subset, [...at, 'subset'], index, config);
    mirrors.push({ host, subset: dest.subset, percentage, where: resource.report.where(at) });
  };
  if (raw.mirror) mirrorOf(raw.mirror, raw.mirrorPercentage ?? raw.mirrorPercent ?? 100, [...path, 'mirror']);
  (raw.mirrors ?? []).forEach((m, j) => mirrorOf(m.destination, m.percentage ?? 100, [...path, 'mirrors', j, 'destination']));
  if (raw.mirrorPercentage !== undefined && !raw.mirror) {
    resource.report.warn([...path, 'mirrorPercentage'], 'mirrorPercentage applies to `mirror`, and this route has none');
  }
  return {
    ref: { origin: resource.origin, rule: `http[${path[path.length - 1]}]`, where },
    name: raw.name,
    matches,
    destinations,
    timeoutMs,
    timeoutWhere: raw.timeout !== undefined ? resource.report.where([...path, 'timeout']) : undefined,
    retries,
    fault,
    mirrors,
    requestHeaders: headerOps(raw.headers, 'request'),
    responseHeaders: headerOps(raw.headers, 'response'),
    rewrite: raw.rewrite ? { uri: raw.rewrite.uri, authority: raw.rewrite.authority } : undefined,
    redirect: raw.redirect ? { uri: raw.redirect.uri, authority: raw.redirect.authority, code: raw.redirect.redirectCode ?? 301 } : undefined,
    directResponse: raw.directResponse ? { status: raw.directResponse.status, body: raw.directResponse.body?.string } : undefined,
  };
}

function headerOps(headers: RawHeaders | undefined, side: 'request' | 'response'): HeaderOperations | undefined {
  const ops = headers?.[side];
  if (!ops) return undefined;
  const lower = (m: Record<string, string> | undefined) => Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  return { set: lower(ops.set), add: lower(ops.add), remove: (ops.remove ?? []).map((h) => h.toLowerCase()) };
}

function compileMatch(raw: RawHttpMatch, resource: IstioResource, path: Path): RequestMatch {
  const named = (m: Record<string, RequestMatch['headers'][number]['match']> | undefined) =>
    Object.entries(m ?? {}).map(([name, match]) => ({ name: name.toLowerCase(), match }));
  const match: RequestMatch = {
    headers: named(raw.headers),
    withoutHeaders: named(raw.withoutHeaders),
    queryParams: Object.entries(raw.queryParams ?? {}).map(([name, m]) => ({ name, match: m })),
  };
  if (raw.name !== undefined) match.name = raw.name;
  if (raw.uri) match.uri = raw.ignoreUriCase ? { ...raw.uri, ignoreCase: true } : raw.uri;
  if (raw.method) match.method = raw.method;
  if (raw.authority) match.authority = raw.authority;
  if (raw.scheme) match.scheme = raw.scheme;
  if (raw.port !== undefined) match.port = raw.port;
  if (raw.sourceLabels) {
    const bad = Object.keys(raw.sourceLabels).find((k) => k !== 'app' && k !== 'version');
    if (bad) resource.report.error([...path, 'sourceLabels', bad], `mesh-sim's pods carry the labels app and version, not \`${bad}\``, true);
    match.sourceLabels = raw.sourceLabels;
  }
  if (raw.sourceNamespace !== undefined) match.sourceNamespace = raw.sourceNamespace;
  for (const q of match.queryParams) {
    if (q.match.kind === 'prefix') resource.report.error([...path, 'queryParams', q.name], 'Istio matches query parameters by exact or regex only, not prefix');
  }
  for (const name of Object.keys(raw.headers ?? {})) {
    if (['uri', 'scheme', 'method', 'authority'].includes(name.toLowerCase())) {
      resource.report.warn([...path, 'headers', name], `Istio ignores the header key \`${name}\`: match it with the field \`${name.toLowerCase()}\` instead`, true);
    }
  }
  return match;
}

function compileDestinations(resource: IstioResource, raw: Pick<RawHttpRoute, 'route'> | RawTcpRoute, path: Path, index: ServiceIndex, config: MeshConfig): RouteDestination[] {
  const list: Array<{ destination: RawDestination; weight?: number | undefined; headers?: RawHeaders | undefined }> = raw.route ?? [];
  const out: RouteDestination[] = [];
  list.forEach((d, j) => {
    const at: Path = [...path, 'route', j, 'destination'];
    const host = resolveHost(d.destination.host, index, resource, [...at, 'host']);
    if (!host) return;
    checkSubset(resource, host, d.destination.subset, [...at, 'subset'], index, config);
    if (d.destination.port && d.destination.port.number !== servicePort(index.byName.get(host))) {
      resource.report.error([...at, 'port', 'number'], `${host} listens on port ${servicePort(index.byName.get(host))}, not ${d.destination.port.number}`);
    }
    const dest: RouteDestination = { host, subset: d.destination.subset, weight: list.length === 1 ? 100 : d.weight ?? 0 };
    const request = headerOps(d.headers, 'request');
    const response = headerOps(d.headers, 'response');
    if (request || response) Object.assign(dest, { requestHeaders: request, responseHeaders: response });
    out.push(dest);
  });
  if (list.length > 1 && list.every((d) => (d.weight ?? 0) === 0)) {
    resource.report.error([...path, 'route'], `${list.length} destinations need weights: each receives weight/(sum of weights) of the requests, and these sum to 0`);
  }
  return out;
}

function checkSubset(resource: IstioResource, host: string, subset: string | undefined, path: Path, index: ServiceIndex, config: MeshConfig): void {
  if (subset === undefined) return;
  const rule = config.destinations[host];
  if (!rule || !rule.subsets[subset]) {
    const known = rule ? Object.keys(rule.subsets) : [];
    const hint = known.length > 0 ? `${didYouMean(subset, known)}; its subsets: ${known.join(', ')}` : '';
    resource.report.warn(path, `no DestinationRule defines subset \`${subset}\` of ${host}${hint}: Envoy has no such cluster, so these requests answer 503 NC (istioctl analyze: IST0101)`);
    return;
  }
  const spec = index.byName.get(host);
  const selected = spec?.versions.filter((v) => labelsSelect(rule.subsets[subset]!.labels, host, v.name)) ?? [];
  if (spec && selected.reduce((n, v) => n + v.replicas, 0) === 0) {
    resource.report.warn(path, `subset \`${subset}\` of ${host} selects no running pod (${describeLabels(rule.subsets[subset]!.labels)}): these requests answer 503 UH`);
  }
}

function describeLabels(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(', ') || 'no labels';
}

/** A destination's own errors that these retries will not retry, said out loud. */
function warnUnretriedErrors(resource: IstioResource, destinations: RouteDestination[], retries: RetryPolicy, path: Path, index: ServiceIndex): void {
  for (const d of destinations) {
    const failing = index.byName.get(d.host)?.versions.find((v) => v.errorRate > 0 && v.errorStatus >= 500
      && !retryDecision({ kind: 'response', status: v.errorStatus }, retries));
    if (!failing) continue;
    const gateway = failing.errorStatus >= 502 && failing.errorStatus <= 504 ? ' or gateway-error' : '';
    resource.report.warn(path, `${d.host}'s own ${failing.errorStatus}s (errorRate ${failing.errorRate}) are not retried: retryOn (${retries.retryOn.join(',')}) has no 5xx${gateway}`);
    return;
  }
}

/** Istio's ConvertPolicy: no retries field means the default policy; attempts 0 turns retries off. */
function compileRetries(resource: IstioResource, raw: RawHttpRoute, path: Path): RetryPolicy {
  const policy = defaultRetryPolicy(raw.retries ? resource.report.where([...path, 'retries']) : undefined);
  const r = raw.retries;
  if (!r) return policy;
  if ((r.attempts ?? 0) <= 0) {
    if (r.attempts === undefined) {
      resource.report.warn([...path, 'retries'], 'no `attempts`: Istio reads that as 0 and turns retries off for this route (write `attempts: 2` for its default)');
    }
    return { ...policy, attempts: 0 };
  }
  policy.attempts = r.attempts!;
  if (r.retryOn) {
    policy.retryOn = r.retryOn.conditions;
    policy.statusCodes = r.retryOn.statusCodes;
  }
  if (r.perTryTimeout !== undefined && r.perTryTimeout > 0) policy.perTryTimeoutMs = r.perTryTimeout;
  if (r.retryIgnorePreviousHosts !== undefined) policy.ignorePreviousHosts = r.retryIgnorePreviousHosts;
  if (r.backoff !== undefined && r.backoff > 0) policy.backoffMs = r.backoff;
  return policy;
}

// ---- DestinationRule ------------------------------------------------------------

function compileDestinationRule(resource: IstioResource, spec: RawDestinationRule, host: string, index: ServiceIndex, placed: Placed): DestinationPolicy {
  const service = index.byName.get(host);
  const port = servicePort(service);
  const base = compileTrafficPolicy(resource, spec.trafficPolicy, ['spec', 'trafficPolicy'], port, defaultTrafficPolicy(), host, placed);
  const subsets: Record<string, Subset> = {};
  (spec.subsets ?? []).forEach((raw, i) => {
    const path: Path = ['spec', 'subsets', i];
    if (subsets[raw.name]) {
      resource.report.error([...path, 'name'], `subset \`${raw.name}\` is defined twice`);
      return;
    }
    const labels = raw.labels ?? {};
    for (const key of Object.keys(labels)) {
      if (key !== 'app' && key !== 'version') {
        resource.report.error([...path, 'labels', key], `mesh-sim's pods carry the labels app and version, not \`${key}\``, true);
      }
    }
    subsets[raw.name] = {
      name: raw.name,
      labels,
      policy: compileTrafficPolicy(resource, raw.trafficPolicy, [...path, 'trafficPolicy'], port, base, host, placed),
    };
  });
  return { host, origin: resource.origin, policy: base, subsets };
}

/**
 * A traffic policy over `inherited`, as Istio merges a subset's over its host's: each of
 * loadBalancer, connectionPool, outlierDetection given here replaces the inherited one
 * whole; then port-level settings for the service's port replace those.
 */
function compileTrafficPolicy(
  resource: IstioResource, raw: RawTrafficPolicy | undefined, path: Path, port: number, inherited: TrafficPolicy,
  host: string, placed: Placed,
): TrafficPolicy {
  if (!raw) return inherited;
  const policy: TrafficPolicy = { ...inherited, where: resource.report.where(path) };
  const applyFields = (fields: Pick<RawTrafficPolicy, 'loadBalancer' | 'connectionPool' | 'outlierDetection' | 'tls'>, at: Path) => {
    if (fields.loadBalancer) policy.loadBalancer = lbKind(fields.loadBalancer.simple);
    if (fields.tls?.mode === 'ISTIO_MUTUAL' || fields.tls?.mode === 'DISABLE') policy.tls = fields.tls.mode;
    if (fields.connectionPool) policy.connectionPool = compileConnectionPool(resource, fields.connectionPool, [...at, 'connectionPool']);
    if (fields.outlierDetection) {
      policy.outlierDetection = compileOutlierDetection(resource, fields.outlierDetection, [...at, 'outlierDetection'], placed);
    }
  };
  applyFields(raw, path);
  (raw.portLevelSettings ?? []).forEach((pls, i) => {
    const at: Path = [...path, 'portLevelSettings', i];
    if (pls.port.number !== port) {
      resource.report.warn([...at, 'port', 'number'], `${host} listens on port ${port}: settings for port ${pls.port.number} apply to nothing`);
      return;
    }
    applyFields(pls, at);
  });
  return policy;
}

function lbKind(simple: string | undefined): LoadBalancerKind {
  switch (simple) {
    case 'RANDOM': return 'RANDOM';
    case 'ROUND_ROBIN': return 'ROUND_ROBIN';
    case 'LEAST_REQUEST':
    case 'LEAST_CONN': return 'LEAST_REQUEST';
    default: return 'UNSPECIFIED';
  }
}

/** Istio reads 0 as "not set" for every limit: the default, 2^32-1, applies. */
const limit = (value: number | undefined): number => (value === undefined || value <= 0 ? UNLIMITED : value);

function compileConnectionPool(resource: IstioResource, raw: RawConnectionPool, path: Path): ConnectionPoolSettings {
  const pool = defaultConnectionPool();
  pool.where = resource.report.where(path);
  pool.label = ruleName(resource, path);
  const zero = (value: number | undefined, at: Path, what: string) => {
    if (value === 0) resource.report.warn(at, `Istio reads 0 as not set: ${what} stays unlimited (2^32-1)`);
  };
  zero(raw.tcp?.maxConnections, [...path, 'tcp', 'maxConnections'], 'the number of connections');
  zero(raw.http?.http1MaxPendingRequests, [...path, 'http', 'http1MaxPendingRequests'], 'the pending queue');
  zero(raw.http?.http2MaxRequests, [...path, 'http', 'http2MaxRequests'], 'the number of requests in flight');
  zero(raw.http?.maxRetries, [...path, 'http', 'maxRetries'], 'the number of retries in flight');
  pool.maxConnections = limit(raw.tcp?.maxConnections);
  pool.http1MaxPendingRequests = limit(raw.http?.http1MaxPendingRequests);
  pool.http2MaxRequests = limit(raw.http?.http2MaxRequests);
  pool.maxRetries = limit(raw.http?.maxRetries);
  pool.maxRequestsPerConnection = raw.http?.maxRequestsPerConnection ?? 0;
  pool.connectTimeoutMs = raw.tcp?.connectTimeout;
  pool.idleTimeoutMs = raw.http?.idleTimeout ?? raw.tcp?.idleTimeout;
  return pool;
}

function compileOutlierDetection(resource: IstioResource, raw: RawOutlierDetection, path: Path, placed: Placed): OutlierDetectionSettings {
  const od: OutlierDetectionSettings = {
    consecutive5xxErrors: raw.consecutive5xxErrors ?? DEFAULT_OUTLIER_DETECTION.consecutive5xxErrors,
    consecutiveGatewayErrors: raw.consecutiveGatewayErrors ?? DEFAULT_OUTLIER_DETECTION.consecutiveGatewayErrors,
    intervalMs: raw.interval ?? DEFAULT_OUTLIER_DETECTION.intervalMs,
    baseEjectionTimeMs: raw.baseEjectionTime ?? DEFAULT_OUTLIER_DETECTION.baseEjectionTimeMs,
    maxEjectionPercent: raw.maxEjectionPercent !== undefined && raw.maxEjectionPercent > 0 ? raw.maxEjectionPercent : DEFAULT_OUTLIER_DETECTION.maxEjectionPercent,
    minHealthPercent: raw.minHealthPercent ?? DEFAULT_OUTLIER_DETECTION.minHealthPercent,
    label: ruleName(resource, path),
    where: resource.report.where(path),
  };
  placed.set(od, { resource, path });
  return od;
}

/** Where each compiled outlier detection was written, for warnings that need the routes too. */
type Placed = Map<OutlierDetectionSettings, { resource: IstioResource; path: Path }>;

/**
 * Envoy keeps the ejected share of a cluster within maxEjectionPercent, counting the host
 * it would eject: say so where that means no host of a cluster the routes use can go.
 */
function warnUnejectable(config: MeshConfig, index: ServiceIndex, placed: Placed): void {
  const warned = new Set<OutlierDetectionSettings>();
  for (const [host, destination] of Object.entries(config.destinations)) {
    const service = index.byName.get(host);
    if (!service) continue;
    const routes = config.virtualHosts[host]?.routes;
    const used = new Set<string | undefined>();
    for (const vh of Object.values(config.virtualHosts)) {
      for (const route of vh.routes) for (const d of route.destinations) if (d.host === host) used.add(d.subset);
    }
    if (!routes) used.add(undefined);
    for (const subset of used) {
      const policy = subset === undefined ? destination.policy : destination.subsets[subset]?.policy;
      const od = policy?.outlierDetection;
      if (!od || warned.has(od) || od.consecutive5xxErrors + od.consecutiveGatewayErrors === 0) continue;
      const labels = subset === undefined ? {} : destination.subsets[subset]!.labels;
      const hosts = service.versions.filter((v) => labelsSelect(labels, host, v.name)).reduce((n, v) => n + v.replicas, 0);
      if (hosts === 0 || ejectableHosts(hosts, od.maxEjectionPercent) > 0) continue;
      warned.add(od);
      const where = placed.get(od);
      const cluster = subset === undefined ? host : `${host} ${subset}`;
      where?.resource.report.warn(where.path, `maxEjectionPercent ${od.maxEjectionPercent} ejects no host from ${cluster} (${hosts} host${hosts === 1 ? '' : 's'}): ` +
        `Envoy keeps the ejected share within it, and 1 of ${hosts} is ${Math.round(100 / hosts)} %; set it to at least ${Math.ceil(100 / hosts)} to see ejections`);
    }
  }
}
