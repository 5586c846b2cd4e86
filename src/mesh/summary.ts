// The summary `mesh-sim run` prints: the contract's JSON shape, built from what the
// collector measured. Requests, errors and latencies per service as its inbound
// sidecars saw them; edges as callers' outbound sidecars saw them.

import type { Scenario } from '../scenario/model.js';
import type { FlowStats, RequestStats } from '../telemetry/stats.js';
import type { TraceTotals } from '../telemetry/traces.js';
import { measuredText, type CheckResult } from '../telemetry/judge.js';
import type { TrafficCounts } from '../traffic/generator.js';
import type { OverloadTotals } from '../self-load/watch.js';

export interface ServiceSummary {
  requests: number;
  errors: number;
  rps: number;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  versions: Record<string, number>;
}

export interface FlowSummary {
  requests: number;
  errors: number;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  statuses: Record<string, number>;
  /** Answers degraded by a service's fallback (Bookinfo's page without reviews). */
  degraded: number;
}

export interface Summary {
  scenario: string;
  seed: number;
  runtime: string;
  durationMs: number;
  services: Record<string, ServiceSummary>;
  edges: Array<{ source: string; destination: string; requests: number; errors: number }>;
  /** Each traffic flow as its client saw it. */
  flows: Record<string, FlowSummary>;
  traces: TraceTotals;
  checks: CheckResult[];
  traffic: TrafficCounts;
  interrupted?: true;
  /** Only when mesh-sim fell behind its own traffic (src/self-load): for how long, and what was busiest. */
  overloaded?: { seconds: number; worst: string; busy: number };
}

const round1 = (n: number): number | null => (Number.isFinite(n) ? Math.round(n * 10) / 10 : null);

export function buildSummary(input: {
  scenario: Pick<Scenario, 'name' | 'services'>;
  seed: number;
  runtime: string;
  durationMs: number;
  stats: RequestStats;
  flowStats: FlowStats;
  /** Flow ids in the order the scenario names them. */
  flowIds?: readonly string[];
  traces: TraceTotals;
  checks: CheckResult[];
  traffic: TrafficCounts;
  interrupted: boolean;
  overload?: OverloadTotals;
}): Summary {
  const seconds = input.durationMs / 1000;
  const services: Record<string, ServiceSummary> = {};
  for (const spec of input.scenario.services) {
    const f = input.stats.service(spec.name, undefined, undefined, seconds);
    const versions: Record<string, number> = {};
    for (const v of spec.versions) versions[v.name] = input.stats.service(spec.name, v.name, undefined, seconds).requests;
    services[spec.name] = {
      requests: f.requests,
      errors: f.errors,
      rps: round1(f.rps) ?? 0,
      p50Ms: round1(f.p50Ms),
      p90Ms: round1(f.p90Ms),
      p99Ms: round1(f.p99Ms),
      versions,
    };
  }
  const flows: Record<string, FlowSummary> = {};
  const ids = [...new Set([...(input.flowIds ?? []), ...input.flowStats.names()])];
  for (const id of ids) {
    const f = input.flowStats.flow(id, undefined, seconds);
    flows[id] = {
      requests: f.requests, errors: f.errors, p50Ms: round1(f.p50Ms), p90Ms: round1(f.p90Ms), p99Ms: round1(f.p99Ms),
      statuses: f.statuses, degraded: f.degraded,
    };
  }
  const edges = input.stats.edgeList()
    .filter((e) => e.requests > 0)
    .map(({ source, destination, requests, errors }) => ({ source, destination, requests, errors }))
    .sort((a, b) => a.source.localeCompare(b.source) || a.destination.localeCompare(b.destination));
  return {
    scenario: input.scenario.name,
    seed: input.seed,
    runtime: input.runtime,
    durationMs: Math.round(input.durationMs),
    services,
    edges,
    flows,
    traces: input.traces,
    checks: input.checks,
    traffic: input.traffic,
    ...(input.interrupted ? { interrupted: true as const } : {}),
    ...(input.overload?.worst ? { overloaded: { seconds: input.overload.seconds, worst: input.overload.worst.source, busy: Math.round(input.overload.worst.busy * 100) / 100 } } : {}),
  };
}

/** What a summary is read from: a finished session, or a replayed recording of one. */
export interface FinishedRun {
  readonly scenario: Scenario;
  readonly seed: number;
  readonly runtimeName: string;
  readonly stats: RequestStats;
  readonly flowStats: FlowStats;
  readonly traces: { summary(): TraceTotals };
  readonly checkResults: CheckResult[];
  readonly trafficCounts: TrafficCounts | undefined;
  /** Whether mesh-sim kept up (a live run knows; a replay may not). */
  readonly overload?: OverloadTotals;
  runSeconds(): number;
}

/** The summary of a run that has finished (or been stopped). */
export function sessionSummary(run: FinishedRun, interrupted = false): Summary {
  return buildSummary({
    scenario: run.scenario,
    seed: run.seed,
    runtime: run.runtimeName,
    durationMs: run.runSeconds() * 1000,
    stats: run.stats,
    flowStats: run.flowStats,
    flowIds: run.scenario.traffic.map((f) => f.id),
    traces: run.traces.summary(),
    checks: run.checkResults,
    traffic: run.trafficCounts ?? { sent: 0, answered: 0, unanswered: 0, failed: 0, skipped: 0, statuses: {} },
    interrupted,
    overload: run.overload,
  });
}

/** The summary as a table for people (what `run` prints without --json). */
export function formatSummary(summary: Summary): string {
  const lines: string[] = [];
  const ms = (v: number | null) => (v === null ? '-' : v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(1)}ms`);
  lines.push(`${summary.scenario}: ${(summary.durationMs / 1000).toFixed(1)}s on ${summary.runtime}, seed ${summary.seed}${summary.interrupted ? ' (interrupted)' : ''}`);
  lines.push('');
  const header = ['SERVICE', 'REQUESTS', 'ERRORS', 'RPS', 'P50', 'P90', 'P99', 'VERSIONS'];
  const rows = Object.entries(summary.services).map(([name, s]) => [
    name, String(s.requests), s.requests > 0 ? `${s.errors} (${((100 * s.errors) / s.requests).toFixed(1)}%)` : '0', s.rps.toFixed(1),
    ms(s.p50Ms), ms(s.p90Ms), ms(s.p99Ms), Object.entries(s.versions).map(([v, n]) => `${v}:${n}`).join(' '),
  ]);
  lines.push(...table([header, ...rows]));
  if (summary.edges.length > 0) {
    lines.push('');
    lines.push(...table([['EDGE', 'REQUESTS', 'ERRORS'], ...summary.edges.map((e) => [`${e.source} → ${e.destination}`, String(e.requests), String(e.errors)])]));
  }
  const flowRows = Object.entries(summary.flows);
  if (flowRows.length > 0) {
    lines.push('');
    lines.push(...table([['FLOW', 'REQUESTS', 'ERRORS', 'P50', 'P90', 'P99', 'STATUSES'], ...flowRows.map(([name, f]) => [
      name, String(f.requests), String(f.errors), ms(f.p50Ms), ms(f.p90Ms), ms(f.p99Ms),
      Object.entries(f.statuses).map(([code, n]) => `${code === '0' ? 'failed' : code}:${n}`).join(' ') + (f.degraded > 0 ? ` (${f.degraded} degraded)` : ''),
    ])]));
  }
  lines.push('');
  const t = summary.traffic;
  lines.push(`traffic: ${t.sent} sent, ${t.answered} answered, ${t.unanswered} unanswered at the end${t.failed ? `, ${t.failed} failed to send` : ''}${t.skipped ? `, ${t.skipped} not sent (too many in flight)` : ''}`);
  lines.push(`traces: ${summary.traces.count}, ${summary.traces.complete} complete, deepest ${summary.traces.maxDepth} services`);
  if (summary.overloaded) {
    const o = summary.overloaded;
    lines.push(`warning: mesh-sim fell behind its own traffic for ${o.seconds} s of the run (busiest: ${o.worst}, ${Math.round(o.busy * 100)}%): latencies and timeouts then include its own queueing`);
  }
  if (summary.checks.length > 0) {
    lines.push('');
    for (const c of summary.checks) {
      lines.push(`${c.ok ? 'PASS' : 'FAIL'}  ${c.at ? `[${c.at}] ` : ''}${c.expr}  (${measuredText(c)})`);
    }
  }
  return lines.join('\n');
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd());
}
