// The shape of a scenario document, as zod schemas: every key the contract names,
// unknown keys rejected with a "did you mean", leaves (durations, sizes, percentages,
// checks) parsed to numbers. Cross-references between parts are checked in build.ts.

import { z } from 'zod';
import { didYouMean } from './suggest.js';
import { CheckSyntaxError, parseCheck, type CheckExpr } from './check-expr.js';
import type { LatencySpec } from './model.js';
import type { StringMatch } from '../policy/config.js';
import { re2Problem, retryOn } from '../istio/schema.js';
export type { RetryOn } from '../istio/schema.js';
import {
  AT_KEY, byShape, describe, duration, flag, fraction, httpStatus, integer, isPlainObject, leaf, method, name, namedMap, nonEmpty,
  optionalFields, orEmpty, percentage, positive, size, strict, text, urlPath,
} from './fields.js';

export { AT_KEY, duration, ignoringUnknownKeys, isUnknownKeyIssue, isWarningIssue, NAME_RULE } from './fields.js';

const LATENCY_FORMS = 'a duration (`5ms`), `{mean: 5ms, stddev: 2ms}` or `{p50: 5ms, p99: 40ms}`';
const normalLatency = strict({ mean: duration, stddev: duration });
const percentileLatency = strict({ p50: duration, p99: duration });

export const latency = byShape<LatencySpec>((v) => {
  if (typeof v === 'string' || typeof v === 'number') return duration.transform((ms): LatencySpec => ({ kind: 'constant', ms }));
  if (!isPlainObject(v)) return `expected ${LATENCY_FORMS}, got ${describe(v)}`;
  if ('p50' in v || 'p99' in v) {
    return percentileLatency.superRefine((l, ctx) => {
      if (l.p99 < l.p50) ctx.addIssue({ code: 'custom', message: 'p99 cannot be below p50', path: ['p99'] });
    }).transform((l): LatencySpec => ({ kind: 'percentiles', p50Ms: l.p50, p99Ms: l.p99 }));
  }
  if ('mean' in v || 'stddev' in v) {
    return normalLatency.transform((l): LatencySpec => ({ kind: 'normal', meanMs: l.mean, stddevMs: l.stddev }));
  }
  const keys = Object.keys(v);
  const hint = keys.length > 0 ? didYouMean(keys[0]!, ['mean', 'stddev', 'p50', 'p99']) : '';
  return `expected ${LATENCY_FORMS}${hint}`;
});

const callObject = strict({
  service: name('service name'),
  path: urlPath.optional(),
  method: method.optional(),
  optional: flag.optional(),
  probability: percentage(1).optional(),
  timeout: duration.optional(),
  retries: integer(0, 10, 'a retry count').optional(),
  fallback: httpStatus.optional(),
});
export type RawCall = {
  service: string; path?: string | undefined; method?: string | undefined; optional?: boolean | undefined; probability?: number | undefined;
  timeout?: number | undefined; retries?: number | undefined; fallback?: number | undefined;
};

const singleCall = byShape<RawCall>((v) =>
  typeof v === 'string' ? name('service name').transform((service): RawCall => ({ service })) : callObject,
);
const parallelGroup = strict({ parallel: nonEmpty('a parallel group', singleCall) });
export type RawCallStep = { call: RawCall } | { parallel: RawCall[] };
const callStep = byShape<RawCallStep>((v) => {
  if (isPlainObject(v) && 'parallel' in v) return parallelGroup.transform((g): RawCallStep => ({ parallel: g.parallel }));
  if (typeof v === 'string' || isPlainObject(v)) return singleCall.transform((call): RawCallStep => ({ call }));
  return `expected a service name, \`{service: NAME, ...}\` or \`{parallel: [...]}\`, got ${describe(v)}`;
});

const behaviourFields = {
  replicas: integer(0, 50, 'a replica count'),
  latency: latency,
  errorRate: fraction,
  errorStatus: httpStatus,
  responseSize: size,
  calls: z.array(callStep),
  image: text('an image reference', 300),
  command: text('a command', 2000),
};
const versionSchemaStrict = strict(optionalFields(behaviourFields));

const protocol = leaf<'http' | 'tcp'>((v) => {
  if (v === 'http') return { ok: v };
  if (v === 'tcp') return { ok: v };
  return { error: `a protocol is http (the default) or tcp (an echo service), not ${describe(v)}` };
});

/** A Kubernetes name (RFC 1123 subdomain): what `serviceAccountName` takes. */
const serviceAccountName = leaf<string>((v) => {
  if (typeof v === 'string' && v.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(v)) return { ok: v };
  return { error: `a service account is a Kubernetes name (lowercase letters, digits, '-' and '.'), not ${describe(v)}` };
});

const serviceSchemaStrict = strict({
  port: integer(1, 65535, 'a port').optional(),
  ...optionalFields(behaviourFields),
  sidecar: flag.optional(),
  protocol: protocol.optional(),
  serviceAccount: serviceAccountName.optional(),
  versions: namedMap('version name', orEmpty(versionSchemaStrict)).optional(),
});

const stringMatch = byShape<StringMatch>((v) => {
  if (!isPlainObject(v)) return `expected \`{exact: ...}\`, \`{prefix: ...}\` or \`{regex: ...}\`, got ${describe(v)}`;
  const keys = Object.keys(v);
  const kinds = ['exact', 'prefix', 'regex'] as const;
  if (keys.length !== 1 || !(kinds as readonly string[]).includes(keys[0]!)) {
    const hint = keys.length === 1 ? didYouMean(keys[0]!, kinds) : '';
    return `a match has exactly one of exact, prefix or regex${hint}`;
  }
  const kind = keys[0] as StringMatch['kind'];
  return strict({ [kind]: text('the text to match', 500) }).transform((m, ctx): StringMatch => {
    const value = m[kind] as string;
    if (kind === 'regex') {
      const problem = re2Problem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [kind] });
    }
    return { kind, value };
  });
});

const routeMatch = strict({
  headers: z.record(z.string(), stringMatch).optional(),
  path: stringMatch.optional(),
});
export type RawRouteMatch = z.output<typeof routeMatch>;

const matchList = byShape<RawRouteMatch[]>((v) => {
  if (Array.isArray(v)) return nonEmpty('match', routeMatch) as z.ZodType<RawRouteMatch[]>;
  return routeMatch.transform((m) => [m]);
});

const weighted = strict({ version: name('version name'), weight: integer(0, 100, 'a weight').optional() });
const route = strict({ match: matchList.optional(), route: nonEmpty('route', weighted) });

const retries = strict({
  attempts: integer(0, 10, 'a retry count').optional(),
  perTryTimeout: duration.optional(),
  retryOn: retryOn.optional(),
});

const fault = strict({
  delay: strict({ percentage: percentage().optional(), fixedDelay: duration }).optional(),
  abort: strict({ percentage: percentage().optional(), httpStatus: httpStatus }).optional(),
});

const mirror = strict({ version: name('version name'), percentage: percentage().optional() });
const connectionPool = strict({
  maxConnections: integer(1, 4_294_967_295, 'a connection limit').optional(),
  http1MaxPendingRequests: integer(0, 4_294_967_295, 'a queue length').optional(),
});
const outlierDetection = strict({
  consecutive5xxErrors: integer(1, 1000, 'an error count').optional(),
  interval: duration.optional(),
  baseEjectionTime: duration.optional(),
  maxEjectionPercent: percentage().optional(),
});

export const meshPolicySchema = strict({
  routes: z.array(route).optional(),
  timeout: duration.optional(),
  retries: retries.optional(),
  fault: fault.optional(),
  mirror: mirror.optional(),
  connectionPool: connectionPool.optional(),
  outlierDetection: outlierDetection.optional(),
});

/** A header value as it may go on the wire: no CR, LF or NUL, which would split or end the header. */
const headerValue = leaf<string>((v) => {
  if (typeof v !== 'string') return { error: `expected a header value, got ${describe(v)}` };
  if (v.length > 1000) return { error: 'a header value is at most 1000 characters' };
  if (/[\r\n\0]/.test(v)) return { error: 'a header value cannot hold a line break or NUL: it would end the header' };
  return { ok: v };
});

const trafficFlow = strict({
  name: name('flow name').optional(),
  to: name('service name'),
  path: urlPath.optional(),
  method: method.optional(),
  rps: positive(5000, 'a request rate (requests per second)').optional(),
  concurrency: integer(1, 1000, 'a number of requests in flight').optional(),
  requests: integer(1, 10_000_000, 'a request count').optional(),
  arrival: z.enum(['poisson', 'uniform']).optional(),
  headers: z.record(z.string(), headerValue).optional(),
}).superRefine((f, ctx) => {
  if (f.rps === undefined && f.concurrency === undefined) {
    ctx.addIssue({ code: 'custom', message: 'a flow needs `rps` (open loop), `concurrency` (closed loop, as fortio -c), or both (a rate cap)' });
  }
  if (f.arrival !== undefined && f.rps === undefined) {
    ctx.addIssue({ code: 'custom', message: '`arrival` shapes an `rps` schedule, and this flow has none', path: ['arrival'] });
  }
});

const checkExpr = leaf<CheckExpr>((v) => {
  if (typeof v !== 'string') return { error: `expected a check such as \`p99(productpage) < 2s\`, got ${describe(v)}` };
  try {
    return { ok: parseCheck(v) };
  } catch (error) {
    if (error instanceof CheckSyntaxError) return { error: error.message };
    throw error;
  }
});

const instanceTarget = strict({
  service: name('service name'),
  version: name('version name').optional(),
  replica: integer(0, 49, 'a replica index').optional(),
});

const setPatch = leaf<Record<string, unknown>>((v) =>
  isPlainObject(v) ? { ok: v } : { error: `\`set\` takes a mapping: a merge patch on the scenario, got ${describe(v)}` },
);

/** `kubectl delete` of one resource: by kind and name (namespace `default`). */
const deleteTarget = strict({
  kind: text('a kind', 100),
  name: text('a name', 253),
  namespace: text('a namespace', 253).optional(),
  apiVersion: text('an apiVersion', 100).optional(),
});
export type RawDeleteTarget = z.output<typeof deleteTarget>;

/** Resources to apply are parsed as Istio resources by the loader, each at its own place. */
const resourceList = z.array(z.unknown());

const timelineEvent = strict({
  at: duration,
  say: text('narration').optional(),
  set: setPatch.optional(),
  apply: resourceList.optional(),
  delete: z.array(deleteTarget).optional(),
  kill: instanceTarget.optional(),
  restart: instanceTarget.optional(),
  check: checkExpr.optional(),
}).superRefine((e, ctx) => {
  if (e.say === undefined && e.set === undefined && e.apply === undefined && e.delete === undefined && e.kill === undefined
    && e.restart === undefined && e.check === undefined) {
    ctx.addIssue({ code: 'custom', message: 'an event does nothing: give it at least one of say, set, apply, delete, kill, restart, check' });
  }
});

export const versionSchema = orEmpty(versionSchemaStrict);
export const serviceSchema = orEmpty(serviceSchemaStrict);

/**
 * Top-level sections, each parsed on its own, and lists and maps item by item, so
 * one broken part hides no problem in another.
 */
export const scalarSections = {
  name: name('scenario name'),
  description: text('a description'),
  seed: integer(0, 4_294_967_295, 'a seed'),
  duration: duration,
} as const;
export const mapSections = { services: serviceSchema, mesh: meshPolicySchema } as const;
export const listSections = { traffic: trafficFlow, timeline: timelineEvent, checks: checkExpr } as const;
/** Istio resources, inline and in files: parsed by the loader, each document at its own place. */
export const RESOURCE_SECTIONS = ['istio', 'include'] as const;

export const SECTION_NAMES = [
  ...Object.keys(scalarSections), ...Object.keys(mapSections), ...RESOURCE_SECTIONS, ...Object.keys(listSections),
];
export const REQUIRED_SECTIONS = ['name', 'services'] as const;
export const serviceNameKey = name('service name');

export type RawService = z.output<typeof serviceSchema>;
export type RawVersion = z.output<typeof versionSchema>;
export type RawMeshPolicy = z.output<typeof meshPolicySchema>;
export type RawTrafficFlow = z.output<typeof trafficFlow>;
export type RawTimelineEvent = z.output<typeof timelineEvent>;
