// The shape of a scenario document, as zod schemas: every key the contract names,
// unknown keys rejected with a "did you mean", leaves (durations, sizes, percentages,
// checks) parsed to numbers. Cross-references between parts are checked in build.ts.

import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';
import { didYouMean } from './suggest.js';
import { CheckSyntaxError, parseCheck, type CheckExpr } from './check-expr.js';
import { RETRY_CONDITIONS, type LatencySpec, type RetryCondition, type StringMatch } from './model.js';

/** Marks an issue that belongs to a key rather than its value, for positions. */
export const AT_KEY = { at: 'key' } as const;
const UNKNOWN_KEY = { at: 'key', unknownKey: true } as const;

export function isUnknownKeyIssue(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'custom' && (issue.params as { unknownKey?: boolean } | undefined)?.unknownKey === true;
}

let reportUnknownKeys = true;

/**
 * Parses with unknown keys ignored: once they are reported, the rest of a unit is
 * still worth cross-checking, so one misspelt key does not hide a wrong name.
 */
export function ignoringUnknownKeys<T>(parse: () => T): T {
  reportUnknownKeys = false;
  try {
    return parse();
  } finally {
    reportUnknownKeys = true;
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `\`${value}\``;
  return String(value);
}

/** An object whose unknown keys are each reported, at the key, with the nearest known one. */
function strict<Shape extends z.ZodRawShape>(shape: Shape) {
  const known = Object.keys(shape);
  return z.looseObject(shape).superRefine(
    (value, ctx) => {
      if (!isPlainObject(value) || !reportUnknownKeys) return;
      for (const key of Object.keys(value)) {
        if (known.includes(key)) continue;
        ctx.addIssue({
          code: 'custom',
          message: `unknown key \`${key}\`${didYouMean(key, known)}; expected one of: ${known.join(', ')}`,
          path: [key],
          params: UNKNOWN_KEY,
        });
      }
    },
    { when: () => true },
  );
}

/** A union decided by the value's shape, so errors speak of the form the author meant. */
function byShape<T>(pick: (value: unknown) => z.ZodType<T> | string) {
  return z.unknown().transform((value, ctx): T => {
    const schema = pick(value);
    if (typeof schema === 'string') {
      ctx.addIssue({ code: 'custom', message: schema });
      return z.NEVER;
    }
    const result = schema.safeParse(value, { reportInput: true });
    if (result.success) return result.data;
    for (const issue of result.error.issues) ctx.addIssue({ ...issue } as Parameters<typeof ctx.addIssue>[0]);
    return z.NEVER;
  });
}

/** A leaf parsed by a function that returns a value or the message saying why not. */
function leaf<T>(parse: (value: unknown) => { ok: T } | { error: string }) {
  return z.unknown().transform((value, ctx): T => {
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: 'required, but missing' });
      return z.NEVER;
    }
    const result = parse(value);
    if ('ok' in result) return result.ok;
    ctx.addIssue({ code: 'custom', message: result.error });
    return z.NEVER;
  });
}

export const duration = leaf<number>((v) => {
  if (typeof v === 'number') return { error: `a duration needs a unit: write \`${v}ms\` or \`${v}s\`` };
  if (typeof v !== 'string') return { error: `expected a duration such as \`250ms\` or \`2s\`, got ${describe(v)}` };
  const ms = parseDuration(v);
  return ms === undefined
    ? { error: `\`${v}\` is not a duration: write a number and a unit (ms, s, m, h), e.g. 250ms, 1.5s, 1m` }
    : { ok: ms };
});

const size = leaf<number>((v) => {
  if (typeof v === 'number') return { error: `a size needs a unit: write \`${v}B\` or \`${v}KiB\`` };
  if (typeof v !== 'string') return { error: `expected a size such as \`512B\` or \`4KiB\`, got ${describe(v)}` };
  const bytes = parseSize(v);
  return bytes === undefined ? { error: `\`${v}\` is not a size: write e.g. 512B, 4KiB, 1MiB` } : { ok: bytes };
});

function percentage(min = 0) {
  return leaf<number>((v) => {
    const raw = isPlainObject(v) && Object.keys(v).length === 1 && 'value' in v ? v.value : v;
    if (typeof raw !== 'number' || Number.isNaN(raw)) {
      return { error: `expected a percentage from ${min} to 100 (\`10\` or \`{value: 10}\`), got ${describe(v)}` };
    }
    if (raw < min || raw > 100) return { error: `a percentage runs from ${min} to 100, not ${raw}` };
    return { ok: raw };
  });
}

const fraction = leaf<number>((v) => {
  if (typeof v !== 'number' || Number.isNaN(v)) return { error: `expected a fraction from 0 to 1, got ${describe(v)}` };
  if (v < 0 || v > 1) {
    const hint = v > 1 && v <= 100 ? ` (for ${v} % write ${v / 100})` : '';
    return { error: `a fraction runs from 0 to 1, not ${v}${hint}` };
  }
  return { ok: v };
});

function integer(min: number, max: number, what = 'a whole number') {
  return leaf<number>((v) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) return { error: `expected ${what}, got ${describe(v)}` };
    if (v < min || v > max) return { error: `${what} from ${min} to ${max}, not ${v}` };
    return { ok: v };
  });
}

function positive(max: number, what: string) {
  return leaf<number>((v) => {
    if (typeof v !== 'number' || Number.isNaN(v)) return { error: `expected ${what}, got ${describe(v)}` };
    if (v < 0 || v > max) return { error: `${what} runs from 0 to ${max}, not ${v}` };
    return { ok: v };
  });
}

const NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
export const NAME_RULE = 'lower-case letters, digits and dashes, starting and ending with a letter or digit';

function name(what: string) {
  return leaf<string>((v) => {
    if (typeof v !== 'string') return { error: `expected ${what}, got ${describe(v)}` };
    if (!NAME.test(v) || v.length > 50) return { error: `\`${v}\` is not a valid ${what}: use ${NAME_RULE} (at most 50)` };
    return { ok: v };
  });
}

function text(what: string, maxLength = 2000) {
  return leaf<string>((v) => {
    if (typeof v !== 'string') return { error: `expected ${what}, got ${describe(v)}` };
    if (v.length > maxLength) return { error: `${what} is longer than ${maxLength} characters` };
    return { ok: v };
  });
}

const urlPath = leaf<string>((v) => {
  if (typeof v !== 'string') return { error: `expected a path such as \`/reviews/1\`, got ${describe(v)}` };
  if (!v.startsWith('/')) return { error: `a path starts with \`/\`: write \`/${v}\`` };
  if (/\s/.test(v)) return { error: `a path cannot hold spaces: \`${v}\`` };
  return { ok: v };
});

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const method = leaf<string>((v) => {
  if (typeof v !== 'string') return { error: `expected an HTTP method, got ${describe(v)}` };
  const upper = v.toUpperCase();
  if (!METHODS.includes(upper)) return { error: `\`${v}\` is not an HTTP method${didYouMean(upper, METHODS)}` };
  return { ok: upper };
});

const httpStatus = integer(200, 599, 'an HTTP status');
const flag = leaf<boolean>((v) => (typeof v === 'boolean' ? { ok: v } : { error: `expected true or false, got ${describe(v)}` }));

/** A map whose keys are names of something (services, versions): bad keys are errors at the key. */
function namedMap<T>(what: string, value: z.ZodType<T>) {
  return z.record(z.string(), value).superRefine(
    (map, ctx) => {
      if (!isPlainObject(map)) return;
      for (const key of Object.keys(map)) {
        if (!NAME.test(key) || key.length > 50) {
          ctx.addIssue({ code: 'custom', message: `\`${key}\` is not a valid ${what}: use ${NAME_RULE}`, path: [key], params: AT_KEY });
        }
      }
    },
    { when: () => true },
  );
}

function nonEmpty<T>(what: string, item: z.ZodType<T>) {
  return z.array(item).min(1, `${what} cannot be an empty list`);
}

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
});
export type RawCall = { service: string; path?: string | undefined; method?: string | undefined; optional?: boolean | undefined; probability?: number | undefined };

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
const optionalFields = <T extends Record<string, z.ZodType>>(fields: T) =>
  Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.optional()])) as { [K in keyof T]: z.ZodOptional<T[K]> };

/** A mapping that may be left empty in YAML (`v1:` or `v1: {}`). */
function orEmpty<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (v === null || v === undefined ? {} : v), schema);
}

const versionSchemaStrict = strict(optionalFields(behaviourFields));

const serviceSchemaStrict = strict({
  port: integer(1, 65535, 'a port').optional(),
  ...optionalFields(behaviourFields),
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
      try {
        new RegExp(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `not a regular expression: ${(error as Error).message}`, path: [kind] });
      }
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

export interface RetryOn {
  conditions: RetryCondition[];
  statusCodes: number[];
}

/** Istio's retryOn: Envoy's conditions and status codes, comma-separated. */
const retryOn = leaf<RetryOn>((v) => {
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
    } else {
      return { error: `unknown retry condition \`${token}\`${didYouMean(token, RETRY_CONDITIONS)}; known: ${RETRY_CONDITIONS.join(', ')}, or a status code such as 503` };
    }
  }
  return { ok: { conditions, statusCodes } };
});

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

const trafficFlow = strict({
  name: name('flow name').optional(),
  to: name('service name'),
  path: urlPath.optional(),
  method: method.optional(),
  rps: positive(5000, 'a request rate (requests per second)'),
  arrival: z.enum(['poisson', 'uniform']).optional(),
  headers: z.record(z.string(), text('a header value', 1000)).optional(),
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

const timelineEvent = strict({
  at: duration,
  say: text('narration').optional(),
  set: setPatch.optional(),
  kill: instanceTarget.optional(),
  restart: instanceTarget.optional(),
  check: checkExpr.optional(),
}).superRefine((e, ctx) => {
  if (e.say === undefined && e.set === undefined && e.kill === undefined && e.restart === undefined && e.check === undefined) {
    ctx.addIssue({ code: 'custom', message: 'an event does nothing: give it at least one of say, set, kill, restart, check' });
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

export const SECTION_NAMES = [...Object.keys(scalarSections), ...Object.keys(mapSections), ...Object.keys(listSections)];
export const REQUIRED_SECTIONS = ['name', 'services'] as const;
export const serviceNameKey = name('service name');

export type RawService = z.output<typeof serviceSchema>;
export type RawVersion = z.output<typeof versionSchema>;
export type RawMeshPolicy = z.output<typeof meshPolicySchema>;
export type RawTrafficFlow = z.output<typeof trafficFlow>;
export type RawTimelineEvent = z.output<typeof timelineEvent>;
