// The UI's view of a running mesh: it listens to the session, keeps what only the UI
// needs (recent log lines, narration, ejections, warnings), and builds a snapshot on
// demand. All counting happens as spans arrive; a snapshot only reads, so rendering
// stays cheap at thousands of spans a second.

import type { MeshSession, SessionEvents } from '../mesh/session.js';
import type { Observability } from '../runtime/runtime.js';
import type { ScenarioChanges } from '../mesh/changes.js';
import type { TimelineEvent } from '../scenario/model.js';
import type { CheckResult } from '../telemetry/judge.js';
import type { LogLine } from '../runtime/runtime.js';
import type { LogRecord } from '../telemetry/access-log.js';
import { GATEWAY } from '../control/protocol.js';
import { ATTR, attrString, type Span } from '../telemetry/span.js';
import { configView, type ConfigView } from './config-view.js';
import {
  accessRow, clock, outlierRow, traceRow, type EdgeRow, type InstanceView, type LogRow, type ServiceRow, type TimelineItem,
  type TimelineView, type TraceRow,
} from './model.js';

export type Phase = 'starting' | 'running' | 'stopping' | 'failed';

/** What the UI reads a mesh from: a live session, or a recording played back (src/record/replay.ts). */
export interface MeshView extends Pick<MeshSession, 'instances' | 'traces' | 'scenario' | 'stats' | 'trafficStartedAt' | 'seed' | 'checkResults' | 'timelineEvents'> {
  on<K extends keyof SessionEvents>(event: K, listener: (...args: SessionEvents[K]) => void): unknown;
  readonly observability: Observability | undefined;
  readonly plane: { readonly configVersion: number };
  readonly timeline: { elapsed(): number; readonly position: number } | undefined;
}

/** Where a replay stands: shown in the header instead of live figures' clock. */
export interface ReplayState {
  atMs: number;
  durationMs: number;
  speed: number;
  paused: boolean;
  ended: boolean;
}

export interface StartupInstance {
  id: string;
  service: string;
  state: InstanceView['state'];
}

export interface UiSnapshot {
  scenario: string;
  description: string;
  seed: number;
  runtime: string;
  phase: Phase;
  message: string | undefined;
  startup: StartupInstance[];
  services: ServiceRow[];
  edges: EdgeRow[];
  /** The same between workloads (`reviews v2`): Kiali's versioned-app graph. */
  versionedEdges: EdgeRow[];
  totals: { rps: number; successRate: number | null };
  traces: TraceRow[];
  timeline: TimelineView;
  logs: readonly LogRow[];
  /** Log lines seen so far (the pane shows how many arrived while paused). */
  logCount: number;
  ingress: string | undefined;
  /** A curl line that calls the mesh through the gateway, like the first traffic flow does. */
  entry: string | undefined;
  /** Prometheus and Grafana, when they run, and why not when they do not. */
  prometheus: string | undefined;
  grafana: string | undefined;
  /** Jaeger's UI, when `--jaeger` started it. */
  jaeger?: string | undefined;
  observabilityNotes: string[];
  warnings: string[];
  /** While mesh-sim falls behind its own traffic: what was busy (shown before any warning, gone once it keeps up). */
  overload: string | undefined;
  /** The scenario file's problems after a save that no longer validates (the mesh runs as before); empty once it does. */
  problems: string[];
  /** The scenario file's name, for what the UI says about editing it. */
  file: string;
  /** The Istio resources in force, with each route's share of its host's traffic. */
  config: ConfigView;
  /** Set when the UI shows a recording (`mesh-sim replay`). */
  replay?: ReplayState;
}

/** Rates and percentiles are over this recent window. */
export const RECENT_MS = 10_000;
export const HISTORY_SECONDS = 30;
const MAX_LOGS = 2000;
const MAX_WARNINGS = 5;
const MAX_PROBLEMS = 4;

export class UiStore {
  private phase: Phase = 'starting';
  private message: string | undefined;
  private readonly logs: LogRow[] = [];
  private logCount = 0;
  private narration: { text: string; atMs: number } | undefined;
  private readonly warnings: string[] = [];
  private overload: string | undefined;
  private problems: string[] = [];
  /** Ejections as each caller sees them: `caller|host` for every host ejected now. */
  private readonly ejected = new Set<string>();
  /** Requests per second each route matched, counted from callers' final client spans. */
  private readonly routes = new RouteRates();

  constructor(private readonly session: MeshView, private readonly runtimeName: string, private readonly clock: () => number = Date.now) {
    session.on('log', (record, line) => this.onLog(record, line));
    session.on('spans', (spans) => this.routes.add(spans));
    session.on('say', (text, event) => {
      this.narration = { text, atMs: event.atMs };
    });
    session.on('warning', (message) => this.warn(message));
    session.on('overload', (state, message) => {
      this.overload = state === 'overloaded' ? message : undefined;
    });
    session.on('applied', (lines) => this.narrate(`applied: ${lines.join('; ')}`));
  }

  setPhase(phase: Phase, message?: string): void {
    this.phase = phase;
    this.message = message;
  }

  warn(message: string): void {
    this.warnings.push(message.split('\n')[0]!);
    if (this.warnings.length > MAX_WARNINGS) this.warnings.shift();
  }

  /** The scenario file was saved and validates (`up --watch`): its problems go; a save that changed nothing is said so (a change narrates itself, live or replayed). */
  fileApplied(changes: ScenarioChanges): void {
    this.problems = [];
    if (changes.empty) this.narrate('saved: nothing the mesh runs on changed');
  }

  private narrate(text: string): void {
    this.narration = { text, atMs: this.session.timeline?.elapsed() ?? 0 };
  }

  /** The scenario file was saved but no longer validates: shown until a save that does. */
  fileInvalid(problems: string[]): void {
    this.problems = problems.slice(0, MAX_PROBLEMS);
    if (problems.length > MAX_PROBLEMS) this.problems.push(`…and ${problems.length - MAX_PROBLEMS} more`);
  }

  private serviceOf(instance: string): string {
    return this.session.instances.get(instance)?.plan.service ?? instance;
  }

  private onLog(record: LogRecord, line: LogLine): void {
    let row: LogRow | undefined;
    if (record.kind === 'access') row = accessRow(record.entry, this.serviceOf(line.instance));
    else if (record.kind === 'outlier') {
      const key = `${line.instance}|${record.entry.upstream_url}`;
      if (record.entry.action === 'EJECT') this.ejected.add(key);
      if (record.entry.action === 'UNEJECT') this.ejected.delete(key);
      row = outlierRow(record.entry, this.serviceOf(line.instance), this.instanceAt(record.entry.upstream_url));
    } else if (line.container === 'app' || line.stream === 'stderr') {
      if (record.text.trim() === '') return;
      row = { at: this.clock(), instance: line.instance, service: this.serviceOf(line.instance), kind: 'text', text: record.text };
    }
    if (!row) return;
    this.logCount++;
    this.logs.push(row);
    // Trim in steps, not one line at a time: a shift of a 2000-line array per line costs.
    if (this.logs.length > MAX_LOGS + 200) this.logs.splice(0, this.logs.length - MAX_LOGS);
  }

  private instanceAt(hostPort: string): string | undefined {
    for (const status of this.session.instances.values()) {
      const e = status.started?.endpoint;
      if (e && `${e.host}:${e.port}` === hostPort) return status.plan.id;
    }
    return undefined;
  }

  private isEjected(instance: string): boolean {
    const e = this.session.instances.get(instance)?.started?.endpoint;
    if (!e) return false;
    const host = `${e.host}:${e.port}`;
    for (const key of this.ejected) if (key.endsWith(`|${host}`)) return true;
    return false;
  }

  spansOf(traceId: string): import('../telemetry/span.js').Span[] | undefined {
    return this.session.traces.spansOf(traceId);
  }

  /** Calls the scenario declares (and the gateway's flows), so the graph is whole before traffic. */
  declaredEdges(): ReadonlyArray<[string, string]> {
    const edges = new Set<string>();
    for (const flow of this.session.scenario.traffic) edges.add(`${GATEWAY.name}\u0000${flow.to}`);
    for (const service of this.session.scenario.services) {
      for (const version of service.versions) {
        for (const step of version.calls) {
          for (const call of step.kind === 'call' ? [step.call] : step.calls) edges.add(`${service.name}\u0000${call.service}`);
        }
      }
    }
    return [...edges].map((e) => e.split('\u0000') as [string, string]);
  }

  snapshot(nowMs = this.clock()): UiSnapshot {
    const { session } = this;
    const scenario = session.scenario;
    const started = session.trafficStartedAt;
    const windowMs = started === undefined ? RECENT_MS : Math.max(1000, Math.min(RECENT_MS, nowMs - started));
    const window = { fromMs: nowMs - windowMs, toMs: nowMs };
    const services: ServiceRow[] = scenario.services.map((spec) => {
      const figures = session.stats.service(spec.name, undefined, window);
      const instances: InstanceView[] = [...session.instances.values()]
        .filter((s) => s.plan.service === spec.name)
        .map((s) => ({ id: s.plan.id, version: s.plan.version, state: s.state, ejected: s.state === 'ready' && this.isEjected(s.plan.id) }));
      return {
        name: spec.name,
        versions: spec.versions.map((v) => v.name),
        instances,
        rps: figures.rps,
        successRate: figures.requests > 0 ? 1 - figures.errorRate : null,
        p50Ms: figures.requests > 0 ? figures.p50Ms : null,
        p90Ms: figures.requests > 0 ? figures.p90Ms : null,
        p99Ms: figures.requests > 0 ? figures.p99Ms : null,
        rpsHistory: session.stats.history(spec.name, HISTORY_SECONDS, nowMs),
      };
    });
    const seconds = windowMs / 1000;
    const rows = (versions: boolean): EdgeRow[] => session.stats.edgeList(window, versions)
      .filter((e) => e.requests > 0)
      .map((e) => ({ source: e.source, destination: e.destination, rps: e.requests / seconds, errorShare: e.errors / e.requests, mtls: e.mtls }));
    const edges = rows(false);
    const entry = edges.filter((e) => e.source === GATEWAY.name);
    const entryRps = entry.reduce((n, e) => n + e.rps, 0);
    const entryErrors = entry.reduce((n, e) => n + e.rps * e.errorShare, 0);
    const ingress = session.instances.get(GATEWAY.name)?.started?.ingress;
    return {
      scenario: scenario.name,
      description: session.scenario.description,
      seed: session.seed,
      runtime: this.runtimeName,
      phase: this.phase,
      message: this.message,
      startup: [...session.instances.values()].map((s) => ({ id: s.plan.id, service: s.plan.service, state: s.state })),
      services,
      edges,
      versionedEdges: rows(true),
      totals: { rps: entryRps, successRate: entryRps > 0 ? 1 - entryErrors / entryRps : null },
      traces: session.traces.recent().map(traceRow),
      timeline: this.timelineView(),
      logs: this.logs,
      logCount: this.logCount,
      ingress: ingress ? `http://${ingress.host}:${ingress.port}` : undefined,
      entry: ingress && scenario.traffic[0]
        ? `curl -H 'Host: ${scenario.traffic[0].to}' http://${ingress.host}:${ingress.port}${scenario.traffic[0].path}`
        : undefined,
      prometheus: session.observability?.prometheus,
      grafana: session.observability?.grafana,
      jaeger: session.observability?.jaeger?.ui,
      observabilityNotes: session.observability?.notes ?? [],
      warnings: [...this.warnings],
      overload: this.overload,
      problems: this.problems,
      file: scenario.file,
      config: configView(scenario.istio, scenario.config, scenario.services.map((svc) => svc.name), this.routes.rates(nowMs, windowMs), session.plane.configVersion),
    };
  }

  private timelineView(): TimelineView {
    const events = this.session.timelineEvents;
    const position = this.session.timeline?.position ?? 0;
    const items: TimelineItem[] = events.map((e, i) => ({ atMs: e.atMs, label: describeEvent(e), done: i < position }));
    return {
      elapsedMs: this.session.timeline?.elapsed() ?? 0,
      durationMs: this.session.scenario.durationMs,
      items,
      narration: this.narration,
      next: items.find((i) => !i.done),
      checks: this.session.checkResults.filter((c): c is CheckResult & { at: string } => c.at !== undefined),
    };
  }
}

/** Requests per route label, per second, for the last RECENT_MS: bounded by the routes that exist. */
class RouteRates {
  private readonly counts = new Map<string, Map<number, number>>();

  add(spans: readonly Span[]): void {
    for (const span of spans) {
      if (span.kind !== 'client' || span.attributes[ATTR.final] !== true) continue;
      const route = attrString(span, ATTR.route);
      if (route === undefined) continue;
      let bySecond = this.counts.get(route);
      if (!bySecond) {
        bySecond = new Map();
        this.counts.set(route, bySecond);
      }
      const second = Math.floor(span.endMs / 1000);
      bySecond.set(second, (bySecond.get(second) ?? 0) + 1);
      if (bySecond.size > 2 * RECENT_MS / 1000) {
        const oldest = Math.min(...bySecond.keys());
        bySecond.delete(oldest);
      }
    }
  }

  rates(nowMs: number, windowMs: number): Map<string, number> {
    const from = Math.floor((nowMs - windowMs) / 1000);
    const out = new Map<string, number>();
    for (const [route, bySecond] of this.counts) {
      let n = 0;
      for (const [second, count] of bySecond) if (second >= from) n += count;
      out.set(route, n / (windowMs / 1000));
    }
    return out;
  }
}

export function describeEvent(event: TimelineEvent): string {
  const parts: string[] = [];
  if (event.say) parts.push(`“${event.say}”`);
  if (event.set) parts.push(`set ${Object.keys(event.set).join(', ')}`);
  if (event.apply) parts.push(`apply ${event.apply.map((r) => `${r.kind} ${r.name}`).join(', ')}`);
  if (event.delete) parts.push(`delete ${event.delete.map((r) => `${r.kind} ${r.name}`).join(', ')}`);
  const target = (t: { service: string; version: string | undefined; replica: number | undefined }) =>
    `${t.service}${t.version ? ` ${t.version}` : ''}${t.replica !== undefined ? ` #${t.replica}` : ''}`;
  if (event.kill) parts.push(`kill ${target(event.kill)}`);
  if (event.restart) parts.push(`restart ${target(event.restart)}`);
  if (event.check) parts.push(`check ${event.check.expr.text}`);
  return `${clock(event.atMs)}  ${parts.join('; ')}`;
}
