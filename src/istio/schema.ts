// Istio's resources as Istio defines them (istio/api, networking v1/v1beta1/v1alpha3),
// as zod schemas: Istio's field names (camelCase, as kubectl takes them), Istio's value
// forms (`{value: 10}` percentages, `2s` durations), every unknown key reported with a
// "did you mean", every field mesh-sim cannot honour an error that says so, and fields
// that cannot change anything on one machine taken with a warning.

import { z } from 'zod';
import { RE2JS } from 're2js';
import {
  byShape, cannotHonour, deprecated, describe, duration, integer, isPlainObject, leaf, noEffect, nonEmpty, strict, text,
} from '../scenario/fields.js';
import { didYouMean } from '../scenario/suggest.js';
import { RETRY_CONDITIONS, type RetryCondition, type StringMatch } from '../policy/config.js';
import { LIMITS } from '../scenario/limits.js';
import { ROOT_NAMESPACE } from '../policy/security.js';
import { authorizationPolicySpec, peerAuthenticationSpec, type RawAuthorizationPolicy, type RawPeerAuthentication } from './security-schema.js';

export const NETWORKING_VERSIONS = ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'] as const;
export const SECURITY_VERSIONS = ['security.istio.io/v1', 'security.istio.io/v1beta1'] as const;

/** Istio's Percent: `{value: 10}` (a double from 0 to 100). */
export const istioPercent = leaf<number>((v) => {
  if (typeof v === 'number') return { error: `Istio writes a percentage as \`{value: ${v}}\`` };
  if (!isPlainObject(v) || !('value' in v)) return { error: `expected a percentage such as \`{value: 10}\`, got ${describe(v)}` };
  const extra = Object.keys(v).filter((k) => k !== 'value');
  if (extra.length > 0) return { error: `unknown key \`${extra[0]}\` in a percentage: it has only \`value\`` };
  const value = v.value;
  if (typeof value !== 'number' || Number.isNaN(value)) return { error: `a percentage's value is a number from 0 to 100, got ${describe(value)}` };
  if (value < 0 || value > 100) return { error: `a percentage runs from 0 to 100, not ${value}` };
  return { ok: value };
});

/** A regular expression as Envoy takes it: RE2 syntax (no backreferences, no lookaround), matched in linear time. */
export function re2Problem(source: string): string | undefined {
  if (source.length > LIMITS.regexLength) return `a regex is at most ${LIMITS.regexLength} characters`;
  try {
    RE2JS.compile(source);
    return undefined;
  } catch (error) {
    return `not a regular expression Envoy takes (RE2 syntax): ${(error as Error).message}`;
  }
}

/** Istio's StringMatch: exactly one of exact, prefix, regex; `{}` or regex `*` means "present". */
export const istioStringMatch = byShape<StringMatch>((v) => {
  if (!isPlainObject(v)) return `expected \`{exact: ...}\`, \`{prefix: ...}\` or \`{regex: ...}\`, got ${describe(v)}`;
  const keys = Object.keys(v);
  const kinds = ['exact', 'prefix', 'regex'] as const;
  if (keys.length === 0) return z.unknown().transform((): StringMatch => ({ kind: 'present', value: '' }));
  if (keys.length !== 1 || !(kinds as readonly string[]).includes(keys[0]!)) {
    const hint = keys.length === 1 ? didYouMean(keys[0]!, kinds) : '';
    return `a StringMatch has exactly one of exact, prefix or regex${hint}`;
  }
  const kind = keys[0] as 'exact' | 'prefix' | 'regex';
  return strict({ [kind]: text('the text to match', 1000) }).transform((m, ctx): StringMatch => {
    const value = m[kind] as string;
    if (kind === 'regex') {
      if (value === '*') return { kind: 'present', value: '' };
      const problem = re2Problem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [kind] });
    }
    return { kind, value };
  });
});

const stringMap = z.record(z.string(), text('a value', 1000));
const matchMap = z.record(z.string(), istioStringMatch);
const stringList = z.array(text('a name', 300));

const ONLY_MESH = 'mesh-sim has no Gateway resources: traffic enters at a flow\'s `to` service, routed as an in-mesh client\'s sidecar routes it. Leave `gateways` out (or write `[mesh]`)';
const gateways = z.array(text('a gateway', 300)).transform((list, ctx) => {
  const other = list.filter((g) => g !== 'mesh');
  if (other.length > 0) ctx.addIssue({ code: 'custom', message: `gateway \`${other[0]}\`: ${ONLY_MESH}` });
  return list;
});

const portSelector = strict({ number: integer(1, 65535, 'a port') });

export const destination = strict({
  host: text('a host', 300),
  subset: text('a subset name', 253).optional(),
  port: portSelector.optional(),
});
export type RawDestination = z.output<typeof destination>;

const httpMatchRequest = strict({
  name: text('a name', 300).optional(),
  uri: istioStringMatch.optional(),
  scheme: istioStringMatch.optional(),
  method: istioStringMatch.optional(),
  authority: istioStringMatch.optional(),
  headers: matchMap.optional(),
  port: integer(1, 65535, 'a port').optional(),
  sourceLabels: stringMap.optional(),
  gateways: gateways.optional(),
  queryParams: matchMap.optional(),
  ignoreUriCase: z.boolean().optional(),
  withoutHeaders: matchMap.optional(),
  sourceNamespace: text('a namespace', 253).optional(),
  statPrefix: noEffect(text('a stat prefix', 300), 'statPrefix names Envoy\'s per-route stats, which mesh-sim does not keep').optional(),
});
export type RawHttpMatch = z.output<typeof httpMatchRequest>;

const headerOperations = strict({
  set: stringMap.optional(),
  add: stringMap.optional(),
  remove: z.array(text('a header name', 300)).optional(),
});
const headers = strict({ request: headerOperations.optional(), response: headerOperations.optional() });
export type RawHeaders = z.output<typeof headers>;

const httpRouteDestination = strict({
  destination,
  weight: integer(0, 1_000_000, 'a weight').optional(),
  headers: headers.optional(),
});

/** Istio's retryOn: Envoy's conditions and status codes, comma-separated. */
export interface RetryOn {
  conditions: RetryCondition[];
  statusCodes: number[];
}

const GRPC_RETRY_ON = ['deadline-exceeded', 'resource-exhausted', 'internal', 'unavailable', 'cancelled'];

export const retryOn = leaf<RetryOn>((v) => {
  if (typeof v !== 'string') return { error: `expected a comma-separated list such as \`5xx,reset\`, got ${describe(v)}` };
  const parts = v.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) return { error: 'retryOn is empty: name at least one condition, or set attempts: 0 to turn retries off' };
  const conditions: RetryCondition[] = [];
  const statusCodes: number[] = [];
  const add = (c: RetryCondition) => {
    if (!conditions.includes(c)) conditions.push(c);
  };
  for (const token of parts) {
    if (/^\d{3}$/.test(token) && Number(token) >= 100 && Number(token) <= 599) {
      statusCodes.push(Number(token));
      add('retriable-status-codes');
    } else if ((RETRY_CONDITIONS as readonly string[]).includes(token)) {
      add(token as RetryCondition);
    } else if (GRPC_RETRY_ON.includes(token)) {
      // gRPC conditions look at grpc-status, which no mesh-sim service sends: they never fire.
      if (token === 'unavailable' || token === 'cancelled') add(token);
    } else {
      return { error: `unknown retry condition \`${token}\`${didYouMean(token, RETRY_CONDITIONS)}; known: ${RETRY_CONDITIONS.join(', ')}, or a status code such as 503` };
    }
  }
  return { ok: { conditions, statusCodes } };
});

const httpRetry = strict({
  attempts: integer(0, 100, 'a retry count').optional(),
  perTryTimeout: duration.optional(),
  retryOn: retryOn.optional(),
  retryRemoteLocalities: noEffect(z.boolean(), 'a mesh-sim mesh has one locality: there is no remote one to retry in').optional(),
  retryIgnorePreviousHosts: z.boolean().optional(),
  backoff: duration.optional(),
});
export type RawHttpRetry = z.output<typeof httpRetry>;

const delay = strict({
  percent: deprecated(integer(0, 100, 'a percentage'), 'Istio still reads `percent` when `percentage` is absent; write `percentage: {value: N}`').optional(),
  percentage: istioPercent.optional(),
  fixedDelay: duration.optional(),
  exponentialDelay: cannotHonour('Istio itself does not support exponentialDelay (it drops the delay); use fixedDelay').optional(),
}).superRefine((d, ctx) => {
  if (d.fixedDelay === undefined && d.exponentialDelay === undefined) ctx.addIssue({ code: 'custom', message: 'a delay needs `fixedDelay`', path: ['fixedDelay'] });
});

const abort = strict({
  httpStatus: integer(200, 599, 'an HTTP status').optional(),
  grpcStatus: cannotHonour('mesh-sim\'s services speak HTTP/1.1, not gRPC; use httpStatus').optional(),
  http2Error: cannotHonour('mesh-sim\'s services speak HTTP/1.1; use httpStatus').optional(),
  percentage: istioPercent.optional(),
  percent: cannotHonour('Istio removed `percent` from abort; write `percentage: {value: N}`').optional(),
}).superRefine((a, ctx) => {
  if (a.httpStatus === undefined && a.grpcStatus === undefined && a.http2Error === undefined) {
    ctx.addIssue({ code: 'custom', message: 'an abort needs `httpStatus`', path: ['httpStatus'] });
  }
});

const fault = strict({ delay: delay.optional(), abort: abort.optional() });
export type RawFault = z.output<typeof fault>;

const mirrorPolicy = strict({ destination, percentage: istioPercent.optional() });

const redirect = strict({
  uri: text('a path', 2000).optional(),
  authority: text('an authority', 300).optional(),
  redirectCode: integer(300, 399, 'a redirect status').optional(),
  port: cannotHonour('mesh-sim redirects keep the port').optional(),
  derivePort: cannotHonour('mesh-sim redirects keep the port').optional(),
  scheme: cannotHonour('mesh-sim speaks plain HTTP').optional(),
  prefixRewrite: cannotHonour('use `uri`').optional(),
});

const directResponse = strict({
  status: integer(200, 599, 'an HTTP status'),
  body: strict({
    string: text('a body', 100_000).optional(),
    bytes: cannotHonour('write the body as `string`').optional(),
  }).optional(),
});

const rewrite = strict({
  uri: text('a path', 2000).optional(),
  authority: text('an authority', 300).optional(),
  uriRegexRewrite: cannotHonour('use `uri`, which replaces the matched prefix').optional(),
});

const httpRoute = strict({
  name: text('a route name', 300).optional(),
  match: z.array(httpMatchRequest).optional(),
  route: z.array(httpRouteDestination).optional(),
  redirect: redirect.optional(),
  directResponse: directResponse.optional(),
  delegate: cannotHonour('delegate VirtualServices need Istio\'s root/delegate merging; write the routes in one VirtualService').optional(),
  rewrite: rewrite.optional(),
  timeout: duration.optional(),
  retries: httpRetry.optional(),
  fault: fault.optional(),
  mirror: destination.optional(),
  mirrors: z.array(mirrorPolicy).optional(),
  mirrorPercent: deprecated(integer(0, 100, 'a percentage'), 'write `mirrorPercentage: {value: N}`').optional(),
  mirrorPercentage: istioPercent.optional(),
  corsPolicy: noEffect(z.unknown(), 'CORS answers browsers\' preflight requests; mesh-sim\'s traffic sends none').optional(),
  headers: headers.optional(),
}).superRefine((r, ctx) => {
  const actions = [r.route !== undefined && r.route.length > 0, r.redirect !== undefined, r.directResponse !== undefined].filter(Boolean).length;
  if (actions === 0) ctx.addIssue({ code: 'custom', message: 'an http route needs `route` (or `redirect`, or `directResponse`)', path: ['route'] });
  if (actions > 1) ctx.addIssue({ code: 'custom', message: 'an http route has one of `route`, `redirect` or `directResponse`, not several' });
  if (r.mirror !== undefined && r.mirrors !== undefined) ctx.addIssue({ code: 'custom', message: 'give `mirror` or `mirrors`, not both', path: ['mirrors'] });
});
export type RawHttpRoute = z.output<typeof httpRoute>;

const l4Match = strict({
  port: integer(1, 65535, 'a port').optional(),
  gateways: gateways.optional(),
  destinationSubnets: cannotHonour('a mesh-sim service has no subnet of its own; match by `port`').optional(),
  sourceSubnet: cannotHonour('a mesh-sim pod has no subnet of its own; match by `port`').optional(),
  sourceLabels: cannotHonour('not simulated for TCP routes yet; match by `port`').optional(),
  sourceNamespace: cannotHonour('every mesh-sim workload is in one namespace; match by `port`').optional(),
});

/** Envoy's tcp_proxy: the first route whose match fits the connection, with weighted destinations. */
const tcpRoute = strict({
  match: z.array(l4Match).optional(),
  route: z.array(strict({ destination, weight: integer(0, 1_000_000, 'a weight').optional() })).min(1, 'a tcp route needs at least one destination'),
});
export type RawTcpRoute = z.output<typeof tcpRoute>;

export const virtualServiceSpec = strict({
  hosts: nonEmpty('hosts', text('a host', 300)),
  gateways: gateways.optional(),
  http: z.array(httpRoute).optional(),
  tls: cannotHonour('mesh-sim routes HTTP: TLS routes (SNI passthrough) are not simulated').optional(),
  tcp: z.array(tcpRoute).optional(),
  exportTo: stringList.optional(),
});
export type RawVirtualService = z.output<typeof virtualServiceSpec>;

const LB_KINDS = ['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST'] as const;
const simpleLb = leaf<(typeof LB_KINDS)[number]>((v) => {
  if (typeof v !== 'string' || !(LB_KINDS as readonly string[]).includes(v)) {
    return { error: `expected one of ${LB_KINDS.join(', ')}${typeof v === 'string' ? didYouMean(v, LB_KINDS) : ''}, got ${describe(v)}` };
  }
  if (v === 'PASSTHROUGH') return { error: 'mesh-sim cannot honour PASSTHROUGH: it sends to the endpoints it knows' };
  return { ok: v as (typeof LB_KINDS)[number] };
});

const loadBalancer = strict({
  simple: simpleLb.optional(),
  consistentHash: cannotHonour('consistent hashing is not simulated yet; use simple: RANDOM, ROUND_ROBIN or LEAST_REQUEST').optional(),
  localityLbSetting: noEffect(z.unknown(), 'a mesh-sim mesh has one locality').optional(),
  zoneAwareLbSetting: noEffect(z.unknown(), 'a mesh-sim mesh has one zone').optional(),
  warmupDurationSecs: noEffect(duration, 'slow start only matters while a new pod warms its caches, which mesh-sim\'s pods do not have').optional(),
  warmup: noEffect(z.unknown(), 'slow start only matters while a new pod warms its caches, which mesh-sim\'s pods do not have').optional(),
});

const tcpSettings = strict({
  maxConnections: integer(0, 4_294_967_295, 'a connection limit').optional(),
  connectTimeout: duration.optional(),
  tcpKeepalive: noEffect(z.unknown(), 'keepalive probes find dead peers across networks; on one machine none go missing silently').optional(),
  maxConnectionDuration: duration.optional(),
  idleTimeout: duration.optional(),
});

const httpSettings = strict({
  http1MaxPendingRequests: integer(0, 4_294_967_295, 'a queue length').optional(),
  http2MaxRequests: integer(0, 4_294_967_295, 'a request limit').optional(),
  maxRequestsPerConnection: integer(0, 4_294_967_295, 'a request count').optional(),
  maxRetries: integer(0, 4_294_967_295, 'a retry limit').optional(),
  idleTimeout: duration.optional(),
  h2UpgradePolicy: noEffect(z.unknown(), 'mesh-sim\'s sidecars speak HTTP/1.1 to each other').optional(),
  useClientProtocol: noEffect(z.unknown(), 'mesh-sim\'s sidecars speak HTTP/1.1 to each other').optional(),
  maxConcurrentStreams: noEffect(z.unknown(), 'mesh-sim\'s sidecars speak HTTP/1.1 to each other').optional(),
  http2KeepAlive: noEffect(z.unknown(), 'mesh-sim\'s sidecars speak HTTP/1.1 to each other').optional(),
});

export const connectionPool = strict({ tcp: tcpSettings.optional(), http: httpSettings.optional() });
export type RawConnectionPool = z.output<typeof connectionPool>;

export const outlierDetection = strict({
  consecutiveErrors: deprecated(integer(0, 4_294_967_295, 'an error count'), 'Istio no longer reads consecutiveErrors, so it ejects nothing; use consecutive5xxErrors or consecutiveGatewayErrors').optional(),
  splitExternalLocalOriginErrors: z.boolean().optional(),
  consecutiveLocalOriginFailures: integer(0, 4_294_967_295, 'a failure count').optional(),
  consecutiveGatewayErrors: integer(0, 4_294_967_295, 'an error count').optional(),
  consecutive5xxErrors: integer(0, 4_294_967_295, 'an error count').optional(),
  interval: duration.optional(),
  baseEjectionTime: duration.optional(),
  maxEjectionPercent: integer(0, 100, 'a percentage').optional(),
  minHealthPercent: integer(0, 100, 'a percentage').optional(),
  outlierDetectionHttpErrorCodes: cannotHonour('not simulated yet; errors are 5xx (consecutive5xxErrors) or 502-504 (consecutiveGatewayErrors)').optional(),
}).superRefine((o, ctx) => {
  if (o.interval === 0) ctx.addIssue({ code: 'custom', message: 'interval must be more than 0s: Envoy sweeps for hosts to bring back this often', path: ['interval'] });
});
export type RawOutlierDetection = z.output<typeof outlierDetection>;

const clientTls = strict({
  mode: text('a TLS mode', 40).optional(),
  clientCertificate: text('a path', 1000).optional(),
  privateKey: text('a path', 1000).optional(),
  caCertificates: text('a path', 1000).optional(),
  credentialName: text('a name', 300).optional(),
  subjectAltNames: stringList.optional(),
  sni: text('a server name', 300).optional(),
  insecureSkipVerify: z.boolean().optional(),
  caCrl: text('a path', 1000).optional(),
}).transform((tls, ctx) => {
  if (tls.mode !== undefined && tls.mode !== 'ISTIO_MUTUAL' && tls.mode !== 'DISABLE') {
    ctx.addIssue({ code: 'custom', message: `mesh-sim cannot honour tls mode ${tls.mode}: its sidecars speak Istio's mutual TLS (ISTIO_MUTUAL) or plaintext (DISABLE)`, path: ['mode'] });
  }
  return tls;
});

const trafficPolicyFields = {
  loadBalancer: loadBalancer.optional(),
  connectionPool: connectionPool.optional(),
  outlierDetection: outlierDetection.optional(),
  tls: clientTls.optional(),
};

const portTrafficPolicy = strict({ port: portSelector, ...trafficPolicyFields });

export const trafficPolicy = strict({
  ...trafficPolicyFields,
  portLevelSettings: z.array(portTrafficPolicy).optional(),
  tunnel: cannotHonour('mesh-sim\'s sidecars do not tunnel').optional(),
  proxyProtocol: cannotHonour('mesh-sim\'s services do not read the PROXY protocol').optional(),
  retryBudget: cannotHonour('not simulated yet; limit retries with connectionPool.http.maxRetries').optional(),
});
export type RawTrafficPolicy = z.output<typeof trafficPolicy>;

const subset = strict({
  name: text('a subset name', 253),
  labels: stringMap.optional(),
  trafficPolicy: trafficPolicy.optional(),
});

export const destinationRuleSpec = strict({
  host: text('a host', 300),
  trafficPolicy: trafficPolicy.optional(),
  subsets: z.array(subset).optional(),
  exportTo: stringList.optional(),
  workloadSelector: cannotHonour('a DestinationRule here applies to every client; workload-scoped rules are not simulated').optional(),
});
export type RawDestinationRule = z.output<typeof destinationRuleSpec>;

const K8S_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const k8sName = leaf<string>((v) => {
  if (typeof v !== 'string') return { error: `expected a name, got ${describe(v)}` };
  if (!K8S_NAME.test(v) || v.length > 253) return { error: `\`${v}\` is not a Kubernetes name: lower-case letters, digits, \`-\` and \`.\`, starting and ending with a letter or digit` };
  return { ok: v };
});

export const metadata = strict({
  name: k8sName,
  namespace: k8sName.optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
  // What `kubectl get -o yaml` adds: taken, so YAML from a real cluster pastes in.
  uid: z.unknown().optional(),
  resourceVersion: z.unknown().optional(),
  generation: z.unknown().optional(),
  creationTimestamp: z.unknown().optional(),
  managedFields: z.unknown().optional(),
});
export type RawMetadata = z.output<typeof metadata>;

export const SPEC_SCHEMAS = {
  VirtualService: { versions: NETWORKING_VERSIONS, spec: virtualServiceSpec },
  DestinationRule: { versions: NETWORKING_VERSIONS, spec: destinationRuleSpec },
  PeerAuthentication: { versions: SECURITY_VERSIONS, spec: peerAuthenticationSpec },
  AuthorizationPolicy: { versions: SECURITY_VERSIONS, spec: authorizationPolicySpec },
} as const;
/** Kinds whose policies may live in Istio's root namespace, where they apply to the whole mesh. */
export const MESH_WIDE_KINDS: readonly string[] = ['PeerAuthentication', 'AuthorizationPolicy'];
export { ROOT_NAMESPACE };
export type IstioKind = keyof typeof SPEC_SCHEMAS;
export const ISTIO_KINDS = Object.keys(SPEC_SCHEMAS) as IstioKind[];

/** Kinds people paste that mesh-sim does not take, with what to do instead. */
export const OTHER_KINDS: Record<string, string> = {
  Gateway: 'mesh-sim\'s traffic enters through its own ingress gateway at each flow\'s `to` service; no Gateway resource is needed',
  ServiceEntry: 'mesh-sim\'s services are the scenario\'s `services`; declare one there',
  Sidecar: 'every mesh-sim sidecar reaches every service',
  EnvoyFilter: 'mesh-sim\'s sidecars are not Envoy: there is no filter chain to patch',
  WorkloadEntry: 'mesh-sim\'s workloads are the scenario\'s `services`',
  Service: 'mesh-sim makes each service\'s Kubernetes Service from `services`',
  Deployment: 'mesh-sim makes each version\'s Deployment from `services`',
};

export type RawSpec = RawVirtualService | RawDestinationRule | RawPeerAuthentication | RawAuthorizationPolicy;
