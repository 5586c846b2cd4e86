// Judging a check against what the collector measured: timeline checks over the window
// since the previous event, `checks:` over the whole run.

import { compare, isLatencyFunction, type CheckExpr } from '../scenario/check-expr.js';
import type { FlowStats, RequestStats, ServiceFigures, Window } from './stats.js';

/** What checks are judged on: the sidecars' counts per service, the generator's per flow. */
export interface Measured {
  stats: RequestStats;
  flowStats: FlowStats;
}

export interface CheckResult {
  expr: string;
  /** `at` of a timeline check, as written; absent for a whole-run check. */
  at?: string;
  ok: boolean;
  /** The measured value, in the check's unit (ms for latencies); null when nothing was measured. */
  value: number | null;
  /** Why there is no value, when there is none. */
  note?: string;
  /** mesh-sim fell behind its own traffic during the time judged: the value includes its own queueing. */
  overloaded?: true;
}

/** What a check measured, as every report of it says so: the value (or why none), and whether mesh-sim fell behind then. */
export function measuredText(result: CheckResult): string {
  const value = result.value === null ? (result.note ?? 'no value') : String(result.value);
  return `measured ${value}${result.overloaded ? ', while mesh-sim fell behind its traffic' : ''}`;
}

export function measure(expr: CheckExpr, measured: Measured, window: Window | undefined, runSeconds: number): number {
  const f: ServiceFigures & { degradedRate?: number } = expr.flow
    ? measured.flowStats.flow(expr.service, window, runSeconds)
    : measured.stats.service(expr.service, expr.version, window, runSeconds);
  switch (expr.func) {
    case 'degraded_rate': return f.degradedRate ?? 0;
    case 'rps': return f.rps;
    case 'requests': return f.requests;
    case 'error_rate': return f.errorRate;
    case 'p50': return f.p50Ms;
    case 'p90': return f.p90Ms;
    case 'p99': return f.p99Ms;
  }
}

export function judge(expr: CheckExpr, measured: Measured, window: Window | undefined, runSeconds: number): CheckResult {
  const value = measure(expr, measured, window, runSeconds);
  if (Number.isNaN(value)) {
    const who = expr.flow ? `flow ${expr.service}` : expr.version ? `${expr.service} ${expr.version}` : expr.service;
    return { expr: expr.text, ok: false, value: null, note: `${who} answered no requests${window ? ' in this window' : ''}: no latency to judge` };
  }
  const rounded = isLatencyFunction(expr.func) || expr.func === 'rps' ? Math.round(value * 10) / 10
    : expr.func === 'error_rate' || expr.func === 'degraded_rate' ? Math.round(value * 10000) / 10000 : value;
  return { expr: expr.text, ok: compare(value, expr.op, expr.value), value: rounded };
}
