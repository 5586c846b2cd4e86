// What the terminal UI shows, computed from the mesh's measurements: rows for the
// services table, the graph's edges, log lines and their filter language, the trace
// list and a trace's waterfall. Pure functions of their input, so panes can be tested
// on recorded data and rendering never does the counting.

import { RESPONSE_FLAGS, parseFlags, type ResponseFlag } from '../policy/flags.js';
import type { AccessLogEntry, OutlierEventEntry } from '../telemetry/access-log.js';
import { ATTR, attrNumber, attrString, isErrorStatus, statusOf, type Span } from '../telemetry/span.js';
import type { TraceShape } from '../telemetry/traces.js';
import type { CheckResult } from '../telemetry/judge.js';

export type InstanceState = 'starting' | 'ready' | 'killed' | 'exited';

export interface InstanceView {
  id: string;
  version: string;
  state: InstanceState;
  ejected: boolean;
}

export interface ServiceRow {
  name: string;
  versions: string[];
  instances: InstanceView[];
  /** Over the recent window. */
  rps: number;
  /** Share of answers that were not 5xx; null with no requests. */
  successRate: number | null;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  /** Requests per second, one point a second, oldest first. */
  rpsHistory: number[];
}

export interface EdgeRow {
  source: string;
  destination: string;
  rps: number;
  errorShare: number;
  /** Its requests go over mutual TLS (Kiali's lock). */
  mtls?: boolean;
}

export type Health = 'good' | 'warn' | 'bad' | 'idle';

export function health(successRate: number | null): Health {
  if (successRate === null) return 'idle';
  if (successRate >= 0.99) return 'good';
  if (successRate >= 0.95) return 'warn';
  return 'bad';
}

export type ServiceSort = 'name' | 'rps' | 'errors' | 'p99';
export const SERVICE_SORTS: readonly ServiceSort[] = ['name', 'rps', 'errors', 'p99'];

export function sortServices(rows: readonly ServiceRow[], by: ServiceSort): ServiceRow[] {
  const copy = [...rows];
  switch (by) {
    case 'name': return copy.sort((a, b) => a.name.localeCompare(b.name));
    case 'rps': return copy.sort((a, b) => b.rps - a.rps);
    case 'errors': return copy.sort((a, b) => (a.successRate ?? 1) - (b.successRate ?? 1));
    case 'p99': return copy.sort((a, b) => (b.p99Ms ?? -1) - (a.p99Ms ?? -1));
  }
}

const SPARKS = '▁▂▃▄▅▆▇█';

export function sparkline(values: readonly number[], width = values.length): string {
  const points = values.slice(-width);
  const max = Math.max(0, ...points);
  if (max <= 0) return SPARKS[0]!.repeat(points.length);
  return points.map((v) => SPARKS[Math.min(SPARKS.length - 1, Math.floor((v / max) * (SPARKS.length - 1) + 0.5))]).join('');
}

/** Scenario time as a clock: `1:05`. */
export function clock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(0)}s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms >= 100) return `${ms.toFixed(0)}ms`;
  return `${ms.toFixed(1)}ms`;
}

export function formatPercent(share: number | null): string {
  if (share === null) return '-';
  return `${(share * 100).toFixed(share >= 0.9995 || share < 0.0005 ? 0 : 1)}%`;
}

export function formatRps(rps: number): string {
  return rps >= 100 ? rps.toFixed(0) : rps.toFixed(1);
}

// ---- logs -------------------------------------------------------------------------

export interface LogRow {
  at: number;
  instance: string;
  service: string;
  kind: 'access' | 'outlier' | 'text';
  reporter?: 'source' | 'destination';
  method?: string;
  path?: string;
  status?: number;
  flags?: ResponseFlag[];
  durationMs?: number;
  /** For an outbound request: the service called. */
  destination?: string;
  text: string;
}

export function accessRow(entry: AccessLogEntry, service: string): LogRow {
  const flags = parseFlags(entry.response_flags);
  const outbound = entry.reporter === 'source';
  const arrow = outbound ? `→ ${entry.destination_service} ` : '';
  const flagText = flags.length > 0 ? ` ${entry.response_flags}` : '';
  return {
    at: Date.parse(entry.start_time) + entry.duration,
    instance: entry.instance,
    service,
    kind: 'access',
    reporter: entry.reporter,
    method: entry.method ?? 'TCP',
    path: entry.path ?? entry.destination_service,
    status: entry.response_code,
    flags,
    durationMs: entry.duration,
    ...(outbound ? { destination: entry.destination_service } : {}),
    text: entry.method === null
      ? `${arrow}TCP${flagText} ${entry.bytes_received} B in, ${entry.bytes_sent} B out, ${entry.duration}ms`
      : `${arrow}${entry.response_code}${flagText} ${entry.method} ${entry.path} ${entry.duration}ms${entry.upstream_request_attempt_count > 1 ? ` (${entry.upstream_request_attempt_count} tries)` : ''}`,
  };
}

export function outlierRow(entry: OutlierEventEntry, service: string, hostInstance: string | undefined): LogRow {
  const who = hostInstance ?? entry.upstream_url;
  const text = entry.action === 'EJECT'
    ? `outlier detection: EJECTED ${who} for ${(entry.eject_duration_ms ?? 0) / 1000}s (ejection ${entry.num_ejections})`
    : entry.action === 'UNEJECT' ? `outlier detection: ${who} is back in the pool` : `outlier detection: did not eject ${who}: ${entry.reason}`;
  return { at: Date.parse(entry.timestamp), instance: entry.instance, service, kind: 'outlier', text };
}

/**
 * The log filter language, typed after `/`: words that must all hold.
 * `svc:NAME` (service), `status:5xx` or `status:503`, `flag:UO`, `>100ms` or `<5ms`
 * (latency), `in`/`out` (side), anything else is text to find.
 */
export interface LogFilter {
  text: string[];
  services: string[];
  statuses: Array<{ class?: number; code?: number }>;
  flags: string[];
  slowerThan?: number;
  fasterThan?: number;
  side?: 'source' | 'destination';
  /** Words that were not understood, to show the user. */
  invalid: string[];
}

export function parseLogFilter(input: string): LogFilter {
  const filter: LogFilter = { text: [], services: [], statuses: [], flags: [], invalid: [] };
  for (const word of input.trim().split(/\s+/).filter((w) => w !== '')) {
    const [key, ...rest] = word.split(':');
    const value = rest.join(':');
    const latency = /^([<>])(\d+(?:\.\d+)?)(ms|s)?$/.exec(word);
    if (latency) {
      const ms = Number(latency[2]) * (latency[3] === 's' ? 1000 : 1);
      if (latency[1] === '>') filter.slowerThan = ms;
      else filter.fasterThan = ms;
    } else if (word === 'in' || word === 'out') {
      filter.side = word === 'in' ? 'destination' : 'source';
    } else if (value !== '' && (key === 'svc' || key === 'service')) {
      filter.services.push(value);
    } else if (value !== '' && key === 'status') {
      const cls = /^([1-5])xx$/i.exec(value);
      if (cls) filter.statuses.push({ class: Number(cls[1]) });
      else if (/^\d{3}$/.test(value)) filter.statuses.push({ code: Number(value) });
      else filter.invalid.push(word);
    } else if (value !== '' && key === 'flag') {
      filter.flags.push(value.toUpperCase());
    } else {
      filter.text.push(word.toLowerCase());
    }
  }
  return filter;
}

export function matchesLog(row: LogRow, filter: LogFilter): boolean {
  if (filter.services.length > 0 && !filter.services.some((s) => row.service === s || row.instance.startsWith(`${s}-`) || row.destination === s)) return false;
  if (filter.statuses.length > 0) {
    if (row.status === undefined) return false;
    const status = row.status;
    if (!filter.statuses.some((s) => (s.code !== undefined ? status === s.code : Math.floor(status / 100) === s.class))) return false;
  }
  if (filter.flags.length > 0 && !filter.flags.some((f) => row.flags?.includes(f as ResponseFlag))) return false;
  if (filter.slowerThan !== undefined && !(row.durationMs !== undefined && row.durationMs > filter.slowerThan)) return false;
  if (filter.fasterThan !== undefined && !(row.durationMs !== undefined && row.durationMs < filter.fasterThan)) return false;
  if (filter.side !== undefined && row.reporter !== filter.side) return false;
  if (filter.text.length > 0) {
    const haystack = `${row.instance} ${row.text}`.toLowerCase();
    if (!filter.text.every((w) => haystack.includes(w))) return false;
  }
  return true;
}

// ---- traces -------------------------------------------------------------------------

export interface TraceRow {
  traceId: string;
  startMs: number;
  /** What the trace did, from its root: `GET productpage/productpage`. */
  label: string;
  durationMs: number;
  spanCount: number;
  services: string[];
  error: boolean;
  complete: boolean;
}

export function traceRow(shape: TraceShape): TraceRow {
  const root = shape.root;
  const target = root ? attrString(root, ATTR.peerService) ?? root.service : '?';
  const method = root ? attrString(root, ATTR.method) ?? '' : '';
  const path = root ? (attrString(root, ATTR.path) ?? '').split('?')[0] : '';
  return {
    traceId: shape.traceId,
    startMs: shape.startMs,
    label: `${method} ${target}${path}`.trim(),
    durationMs: shape.durationMs,
    spanCount: shape.spanCount,
    services: shape.services,
    error: shape.error,
    complete: shape.complete,
  };
}

export type TraceOrder = 'recent' | 'slowest';

export function selectTraces(rows: readonly TraceRow[], options: { failedOnly: boolean; order: TraceOrder; text: string }): TraceRow[] {
  const text = options.text.trim().toLowerCase();
  const picked = rows.filter((r) => (!options.failedOnly || r.error) && (text === '' || `${r.label} ${r.services.join(' ')} ${r.traceId}`.toLowerCase().includes(text)));
  return options.order === 'slowest' ? picked.sort((a, b) => b.durationMs - a.durationMs) : picked.sort((a, b) => b.startMs - a.startMs);
}

export interface WaterfallRow {
  span: Span;
  depth: number;
  /** `productpage GET /productpage` for a server span; `→ reviews` for a client one. */
  label: string;
  offsetMs: number;
  durationMs: number;
  status: number | undefined;
  error: boolean;
  retry: boolean;
  attempt: number | undefined;
  flags: ResponseFlag[];
  fault: string | undefined;
  /** FILE:LINE of the scenario rule that shaped this span's outcome. */
  rule: string | undefined;
  /** That rule by name: `VirtualService reviews http[0].fault.delay`. */
  ruleName: string | undefined;
  /** Who called, as the callee's sidecar knows it: the caller's SPIFFE ID over mutual TLS, `plaintext` otherwise. */
  identity: string | undefined;
}

/** A trace as a Jaeger-like waterfall: parents before children, siblings by start time. */
export function waterfall(spans: readonly Span[]): { rows: WaterfallRow[]; startMs: number; durationMs: number } {
  const startMs = Math.min(...spans.map((s) => s.startMs));
  const endMs = Math.max(...spans.map((s) => s.endMs));
  const byId = new Set(spans.map((s) => s.spanId));
  const children = new Map<string | undefined, Span[]>();
  for (const span of spans) {
    const parent = span.parentSpanId !== undefined && byId.has(span.parentSpanId) ? span.parentSpanId : undefined;
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const rows: WaterfallRow[] = [];
  const visit = (span: Span, depth: number) => {
    const status = statusOf(span);
    const flags = parseFlags(attrString(span, ATTR.responseFlags));
    const method = attrString(span, ATTR.method) ?? '';
    const path = (attrString(span, ATTR.path) ?? '').split('?')[0];
    const target = attrString(span, ATTR.peerService);
    const attempt = attrNumber(span, ATTR.attempt);
    const version = attrString(span, ATTR.destinationVersion) ?? attrString(span, ATTR.canonicalRevision);
    const label = span.kind === 'client'
      ? `${span.service} → ${target ?? '?'}${version && span.kind === 'client' && attempt !== 0 ? ` ${version}` : ''}`
      : `${span.service}${version ? ` ${version}` : ''} ${method} ${path}`.trim();
    rows.push({
      span,
      depth,
      label,
      offsetMs: span.startMs - startMs,
      durationMs: span.endMs - span.startMs,
      status,
      error: span.error || (span.kind !== 'internal' && status !== undefined && isErrorStatus(status)),
      retry: span.attributes[ATTR.retry] === true,
      attempt,
      flags,
      fault: attrString(span, ATTR.fault),
      rule: attrString(span, ATTR.rule),
      ruleName: attrString(span, ATTR.ruleName),
      identity: identityOf(span),
    });
    for (const child of (children.get(span.spanId) ?? []).sort((a, b) => a.startMs - b.startMs)) visit(child, depth + 1);
  };
  for (const root of (children.get(undefined) ?? []).sort((a, b) => a.startMs - b.startMs)) visit(root, 0);
  return { rows, startMs, durationMs: endMs - startMs };
}

function identityOf(span: Span): string | undefined {
  if (span.kind === 'client') return span.attributes[ATTR.mtls] === true ? 'mutual TLS' : span.attributes[ATTR.mtls] === false ? 'plaintext' : undefined;
  const security = attrString(span, ATTR.connectionSecurity);
  if (security === undefined) return undefined;
  return security === 'mutual_tls' ? `mutual TLS from ${attrString(span, ATTR.peerPrincipal) ?? 'an unnamed peer'}` : 'plaintext: no caller identity';
}

/** Why a span failed or was slow, in words a person can act on; then who called, and how. */
export function explain(row: WaterfallRow): string[] {
  const lines: string[] = [];
  if (row.status === 403 && row.ruleName?.startsWith('AuthorizationPolicy')) lines.push('403: RBAC: access denied, by an AuthorizationPolicy of this workload');
  for (const flag of row.flags) lines.push(`${flag}: ${RESPONSE_FLAGS[flag]}`);
  if (row.fault === 'delay' && !row.flags.includes('DI')) lines.push(`DI: ${RESPONSE_FLAGS.DI}`);
  if (row.retry) lines.push(`attempt ${row.attempt}: a retry of an earlier failed attempt`);
  if (row.flags.length === 0 && row.error && row.status !== undefined) {
    lines.push(row.status === 502 ? '502: a call this service depends on failed' : `${row.status}: the service answered with an error itself (errorRate)`);
  }
  if (row.ruleName) lines.push(`rule: ${row.ruleName}${row.rule ? ` (${row.rule})` : ''}`);
  else if (row.rule) lines.push(`rule: ${row.rule}`);
  if (row.identity) lines.push(`identity: ${row.identity}`);
  return lines;
}

/** One line drawn as a bar, `width` wide, for a span within its trace. */
export function bar(offsetMs: number, durationMs: number, totalMs: number, width: number): string {
  if (width <= 0) return '';
  const scale = totalMs > 0 ? width / totalMs : 0;
  const start = Math.min(width - 1, Math.floor(offsetMs * scale));
  const length = Math.max(1, Math.min(width - start, Math.round(durationMs * scale)));
  return ' '.repeat(start) + '█'.repeat(length) + ' '.repeat(Math.max(0, width - start - length));
}

// ---- timeline -------------------------------------------------------------------------

export interface TimelineItem {
  atMs: number;
  label: string;
  done: boolean;
}

export interface TimelineView {
  elapsedMs: number;
  durationMs: number | undefined;
  items: TimelineItem[];
  narration: { text: string; atMs: number } | undefined;
  next: TimelineItem | undefined;
  checks: CheckResult[];
}
