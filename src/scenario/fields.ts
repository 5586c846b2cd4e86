// The building blocks of mesh-sim's schemas (the scenario's and Istio's resources'):
// objects whose unknown keys are reported with a "did you mean", leaves parsed to
// numbers (durations, sizes, percentages) with messages that say what to write, and
// warnings that let a unit parse while saying what it will not do.

import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';
import { didYouMean } from './suggest.js';
import { LIMITS } from './limits.js';

/** Marks an issue that belongs to a key rather than its value, for positions. */
export const AT_KEY = { at: 'key' } as const;
const UNKNOWN_KEY = { at: 'key', unknownKey: true } as const;
const WARNING = { warning: true } as const;

export function isUnknownKeyIssue(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'custom' && (issue.params as { unknownKey?: boolean } | undefined)?.unknownKey === true;
}

/** An issue that is only a warning: the unit is usable, but does less than it seems to. */
export function isWarningIssue(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'custom' && (issue.params as { warning?: boolean } | undefined)?.warning === true;
}

let reportUnknownKeys = true;

/**
 * Parses with unknown keys and warnings left out: once they are reported, the rest of
 * a unit is still worth cross-checking, so one misspelt key does not hide a wrong name.
 */
export function ignoringUnknownKeys<T>(parse: () => T): T {
  reportUnknownKeys = false;
  try {
    return parse();
  } finally {
    reportUnknownKeys = true;
  }
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `\`${value}\``;
  return String(value);
}

/** An object whose unknown keys are each reported, at the key, with the nearest known one. */
export function strict<Shape extends z.ZodRawShape>(shape: Shape) {
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
export function byShape<T>(pick: (value: unknown) => z.ZodType<T> | string) {
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
export function leaf<T>(parse: (value: unknown) => { ok: T } | { error: string }) {
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
  if (ms === undefined) return { error: `\`${v}\` is not a duration: write a number and a unit (ms, s, m, h), e.g. 250ms, 1.5s, 1m` };
  if (ms > LIMITS.durationMs) return { error: `\`${v}\` is longer than the longest duration a scenario may name (24h)` };
  return { ok: ms };
});

export const size = leaf<number>((v) => {
  if (typeof v === 'number') return { error: `a size needs a unit: write \`${v}B\` or \`${v}KiB\`` };
  if (typeof v !== 'string') return { error: `expected a size such as \`512B\` or \`4KiB\`, got ${describe(v)}` };
  const bytes = parseSize(v);
  if (bytes === undefined) return { error: `\`${v}\` is not a size: write e.g. 512B, 4KiB, 1MiB` };
  if (bytes > LIMITS.responseBytes) return { error: `\`${v}\` is more than the largest size a scenario may name (64MiB)` };
  return { ok: bytes };
});

export function percentage(min = 0) {
  return leaf<number>((v) => {
    const raw = isPlainObject(v) && Object.keys(v).length === 1 && 'value' in v ? v.value : v;
    if (typeof raw !== 'number' || Number.isNaN(raw)) {
      return { error: `expected a percentage from ${min} to 100 (\`10\` or \`{value: 10}\`), got ${describe(v)}` };
    }
    if (raw < min || raw > 100) return { error: `a percentage runs from ${min} to 100, not ${raw}` };
    return { ok: raw };
  });
}

export const fraction = leaf<number>((v) => {
  if (typeof v !== 'number' || Number.isNaN(v)) return { error: `expected a fraction from 0 to 1, got ${describe(v)}` };
  if (v < 0 || v > 1) {
    const hint = v > 1 && v <= 100 ? ` (for ${v} % write ${v / 100})` : '';
    return { error: `a fraction runs from 0 to 1, not ${v}${hint}` };
  }
  return { ok: v };
});

export function integer(min: number, max: number, what = 'a whole number') {
  return leaf<number>((v) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) return { error: `expected ${what}, got ${describe(v)}` };
    if (v < min || v > max) return { error: `${what} from ${min} to ${max}, not ${v}` };
    return { ok: v };
  });
}

export function positive(max: number, what: string) {
  return leaf<number>((v) => {
    if (typeof v !== 'number' || Number.isNaN(v)) return { error: `expected ${what}, got ${describe(v)}` };
    if (v < 0 || v > max) return { error: `${what} runs from 0 to ${max}, not ${v}` };
    return { ok: v };
  });
}

export const NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
export const NAME_RULE = 'lower-case letters, digits and dashes, starting and ending with a letter or digit';

export function name(what: string) {
  return leaf<string>((v) => {
    if (typeof v !== 'string') return { error: `expected ${what}, got ${describe(v)}` };
    if (!NAME.test(v) || v.length > 50) return { error: `\`${v}\` is not a valid ${what}: use ${NAME_RULE} (at most 50)` };
    return { ok: v };
  });
}

export function text(what: string, maxLength = 2000) {
  return leaf<string>((v) => {
    if (typeof v !== 'string') return { error: `expected ${what}, got ${describe(v)}` };
    if (v.length > maxLength) return { error: `${what} is longer than ${maxLength} characters` };
    return { ok: v };
  });
}

export const urlPath = leaf<string>((v) => {
  if (typeof v !== 'string') return { error: `expected a path such as \`/reviews/1\`, got ${describe(v)}` };
  if (!v.startsWith('/')) return { error: `a path starts with \`/\`: write \`/${v}\`` };
  if (/\s/.test(v)) return { error: `a path cannot hold spaces: \`${v}\`` };
  return { ok: v };
});

export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
export const method = leaf<string>((v) => {
  if (typeof v !== 'string') return { error: `expected an HTTP method, got ${describe(v)}` };
  const upper = v.toUpperCase();
  if (!METHODS.includes(upper)) return { error: `\`${v}\` is not an HTTP method${didYouMean(upper, METHODS)}` };
  return { ok: upper };
});

export const httpStatus = integer(200, 599, 'an HTTP status');
export const flag = leaf<boolean>((v) => (typeof v === 'boolean' ? { ok: v } : { error: `expected true or false, got ${describe(v)}` }));

/** A map whose keys are names of something (services, versions): bad keys are errors at the key. */
export function namedMap<T>(what: string, value: z.ZodType<T>) {
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

export function nonEmpty<T>(what: string, item: z.ZodType<T>) {
  return z.array(item).min(1, `${what} cannot be an empty list`);
}

export const optionalFields = <T extends Record<string, z.ZodType>>(fields: T) =>
  Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.optional()])) as { [K in keyof T]: z.ZodOptional<T[K]> };

/** A mapping that may be left empty in YAML (`v1:` or `v1: {}`). */
export function orEmpty<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (v === null || v === undefined ? {} : v), schema);
}


/**
 * A field parsed by `schema` under a warning that says `why`. A value the schema refuses
 * is dropped, or, when `refuse` holds, an error with the schema's own words.
 */
function warned<T>(schema: z.ZodType<T>, why: string, refuse: boolean) {
  return z.unknown().transform((value, ctx): T | undefined => {
    if (reportUnknownKeys) ctx.addIssue({ code: 'custom', message: why, params: WARNING });
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    if (!refuse) return undefined;
    for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path as PropertyKey[] as (string | number)[] });
    return z.NEVER;
  });
}

/**
 * A field Istio has and mesh-sim takes, which cannot change anything here: the value is
 * parsed by `schema`, and a warning says why it makes no difference.
 */
export function noEffect<T>(schema: z.ZodType<T>, why: string) {
  return warned(schema, why, false);
}

/** A field Istio has that mesh-sim cannot honour: always an error, saying why. */
export function cannotHonour(why: string) {
  return z.unknown().transform((_value, ctx) => {
    ctx.addIssue({ code: 'custom', message: `mesh-sim cannot honour this field: ${why}` });
    return z.NEVER;
  });
}

/**
 * A deprecated field mesh-sim takes as Istio does, with a warning naming its
 * replacement. Istio still reads it, so a value it would refuse is an error, not
 * quietly dropped (a dropped `percent` would inject nothing, with no word why).
 */
export function deprecated<T>(schema: z.ZodType<T>, why: string) {
  return warned(schema, `deprecated: ${why}`, true);
}
