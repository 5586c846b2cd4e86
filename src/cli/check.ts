// `mesh-sim check FILE --prometheus URL [--from T] [--to T]`: judges a scenario's checks
// against any Prometheus holding Istio's standard metrics (src/grading/promql.ts), each
// with the query that measured it. The run's checks are judged over --from..--to; with
// --from (the run's start), timeline checks too, each at its own time over its window.

import { checkQuery, emptyValue, promRange } from '../grading/promql.js';
import { compare, isLatencyFunction } from '../scenario/check-expr.js';
import type { LocatedCheck, Scenario } from '../scenario/model.js';
import { formatDuration, parseDuration } from '../scenario/units.js';
import { EXIT, UserError } from './exit-codes.js';
import { loadOrExplain } from './run.js';
import type { Output } from './validate.js';

export interface CheckOptions {
  prometheus?: string;
  from?: string;
  to?: string;
  namespace?: string;
  json?: boolean;
}

export interface GradedCheck {
  expr: string;
  /** Scenario time of a timeline check. */
  at?: string;
  ok: boolean;
  value: number | null;
  promql?: string;
  /** Seconds since the epoch the query was evaluated at. */
  time?: number;
  notJudged?: string;
  /** `ms` for a latency. */
  unit?: string;
}

const QUERY_TIMEOUT_MS = 15_000;

/** `1732800000` (seconds since the epoch), an RFC 3339 time, `now`, or `now-10m`. */
export function parseTime(text: string, now = Date.now() / 1000): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  if (trimmed === 'now') return now;
  const relative = /^now-(.+)$/.exec(trimmed);
  if (relative) {
    const ms = parseDuration(relative[1]!);
    if (ms !== undefined) return now - ms / 1000;
  }
  const parsed = Date.parse(trimmed);
  if (!Number.isNaN(parsed) && /^\d{4}-\d{2}-\d{2}T/.test(trimmed)) return parsed / 1000;
  throw new UserError(`a time is seconds since the epoch (as timeline.sh prints), an RFC 3339 time, now or now-10m; not \`${text}\``);
}

async function query(base: URL, promql: string, time: number): Promise<number | undefined> {
  const url = new URL('api/v1/query', base);
  url.searchParams.set('query', promql);
  url.searchParams.set('time', time.toFixed(3));
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(QUERY_TIMEOUT_MS) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new UserError(`cannot reach Prometheus at ${base.href} (${cause})`);
  }
  const body = await response.json().catch(() => undefined) as { status?: string; error?: string; data?: { resultType?: string; result?: Array<{ value?: [number, string] }> } } | undefined;
  if (!response.ok || body?.status !== 'success') {
    throw new UserError(`Prometheus at ${base.href} refused a query (${response.status}${body?.error ? `: ${body.error}` : ''}): ${promql}`);
  }
  const first = body.data?.result?.[0]?.value?.[1];
  if (first === undefined) return undefined;
  const value = Number(first);
  return Number.isFinite(value) ? value : undefined;
}

/** The window a timeline check judges: from the previous event that is not a check. */
function windowStart(scenario: Scenario, index: number): number {
  let start = 0;
  for (const event of scenario.timeline) {
    if (event.index >= index) break;
    if (!event.check) start = event.atMs;
  }
  return start;
}

async function grade(base: URL, check: LocatedCheck, time: number, rangeSeconds: number, namespace: string, at?: string): Promise<GradedCheck> {
  const expr = check.expr;
  const built = checkQuery(expr, rangeSeconds, namespace);
  if ('reason' in built) return { expr: expr.text, ...(at ? { at } : {}), ok: true, value: null, notJudged: built.reason };
  const measured = (await query(base, built.promql, time)) ?? emptyValue(expr);
  const ok = Number.isFinite(measured) && compare(measured, expr.op, expr.value);
  const value = Number.isFinite(measured) ? Math.round(measured * 1000) / 1000 : null;
  return { expr: expr.text, ...(at ? { at } : {}), ok, value, promql: built.promql, time, ...(isLatencyFunction(expr.func) ? { unit: 'ms' } : {}) };
}

export async function checkCommand(file: string, options: CheckOptions, output: Output): Promise<number> {
  if (!options.prometheus) throw new UserError('say which Prometheus to ask: --prometheus URL (e.g. http://127.0.0.1:9090)');
  let base: URL;
  try {
    base = new URL(options.prometheus.endsWith('/') ? options.prometheus : `${options.prometheus}/`);
  } catch {
    throw new UserError(`--prometheus takes a URL such as http://127.0.0.1:9090, not \`${options.prometheus}\``);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new UserError(`--prometheus takes an http or https URL, not \`${options.prometheus}\``);
  const namespace = options.namespace ?? 'default';
  const loaded = await loadOrExplain(file, output);
  if (!loaded) return EXIT.badInput;
  const { scenario } = loaded;
  const now = Date.now() / 1000;
  const defaultSeconds = (scenario.durationMs ?? 5 * 60_000) / 1000;
  const from = options.from !== undefined ? parseTime(options.from, now) : undefined;
  const to = options.to !== undefined ? parseTime(options.to, now) : from !== undefined ? Math.min(now, from + defaultSeconds) : now;
  const start = from ?? to - defaultSeconds;
  if (to <= start) throw new UserError(`--to (${new Date(to * 1000).toISOString()}) is not after --from (${new Date(start * 1000).toISOString()})`);

  const results: GradedCheck[] = [];
  if (from !== undefined) {
    for (const event of scenario.timeline) {
      if (!event.check) continue;
      const time = from + event.atMs / 1000;
      if (time > now) continue;
      const range = (event.atMs - windowStart(scenario, event.index)) / 1000;
      results.push(await grade(base, event.check, time, range, namespace, formatDuration(event.atMs)));
    }
  }
  for (const check of scenario.checks) results.push(await grade(base, check, to, to - start, namespace));

  if (options.json) {
    output.out(JSON.stringify({ scenario: scenario.name, prometheus: base.href, from: start, to, checks: results }, null, 2));
  } else {
    output.out(`${scenario.name}: checks on ${base.href} from ${new Date(start * 1000).toISOString()} to ${new Date(to * 1000).toISOString()} (${promRange(to - start)})`);
    for (const r of results) {
      const where = r.at ? `[${r.at}] ` : '';
      if (r.notJudged) {
        output.out(`  SKIP ${where}${r.expr}: ${r.notJudged}`);
        continue;
      }
      output.out(`  ${r.ok ? 'PASS' : 'FAIL'} ${where}${r.expr}: measured ${r.value === null ? 'nothing (no requests)' : `${r.value}${r.unit ? ` ${r.unit}` : ''}`}`);
      output.out(`       ${r.promql}`);
    }
  }
  return results.every((r) => r.ok) ? EXIT.ok : EXIT.checksFailed;
}
