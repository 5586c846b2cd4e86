// Request statistics, the way Istio's dashboards count: per service and version at the
// callee's inbound sidecar (reporter=destination), per edge at the caller's outbound
// sidecar (reporter=source), and per traffic flow as its client saw it. Each is kept per
// second (the live UI's rates and sparklines), per segment of the timeline (exact check
// windows: see windows.ts), and as totals for the whole run, so memory stays bounded.

import { GATEWAY } from '../control/protocol.js';
import { Sketch } from './sketch.js';
import { ATTR, SIDECAR_SDK, attrString, durationMs, isErrorStatus, statusOf, type Span } from './span.js';
import { NO_SEGMENT } from './windows.js';

interface Slot {
  requests: number;
  errors: number;
  /** Answers a service degraded (a flow's view only). */
  degraded: number;
  latency: Sketch;
}

const newSlot = (): Slot => ({ requests: 0, errors: 0, degraded: 0, latency: new Sketch() });

function merge(into: Slot, slot: Slot): void {
  into.requests += slot.requests;
  into.errors += slot.errors;
  into.degraded += slot.degraded;
  into.latency.merge(slot.latency);
}

export class Series {
  readonly slots = new Map<number, Slot>();
  readonly segments = new Map<number, Slot>();
  readonly total = newSlot();

  add(second: number, segment: number, error: boolean, latencyMs: number | undefined, degraded = false): void {
    let slot = this.slots.get(second);
    if (!slot) {
      slot = newSlot();
      this.slots.set(second, slot);
    }
    let bySegment: Slot | undefined;
    if (segment !== NO_SEGMENT) {
      bySegment = this.segments.get(segment);
      if (!bySegment) {
        bySegment = newSlot();
        this.segments.set(segment, bySegment);
      }
    }
    for (const s of [slot, this.total, bySegment]) {
      if (!s) continue;
      s.requests++;
      if (error) s.errors++;
      if (degraded) s.degraded++;
      if (latencyMs !== undefined) s.latency.add(latencyMs);
    }
  }

  /** The whole seconds whose middle falls in [fromMs, toMs): for the live UI's recent rates. */
  window(fromMs: number, toMs: number): Slot {
    const out = newSlot();
    const first = Math.round(fromMs / 1000);
    const last = Math.round(toMs / 1000);
    for (const [second, slot] of this.slots) if (second >= first && second < last) merge(out, slot);
    return out;
  }

  bySegments(segments: readonly number[]): Slot {
    const out = newSlot();
    for (const s of segments) {
      const slot = this.segments.get(s);
      if (slot) merge(out, slot);
    }
    return out;
  }

  evictBefore(second: number): void {
    for (const key of this.slots.keys()) if (key < second) this.slots.delete(key);
  }
}

/** A stretch of wall-clock time (the live UI), or the segments of a check's window. */
export type Window = { fromMs: number; toMs: number } | { segments: readonly number[]; seconds: number };

function select(series: Series, window: Window | undefined): Slot {
  if (!window) return series.total;
  return 'segments' in window ? series.bySegments(window.segments) : series.window(window.fromMs, window.toMs);
}

function windowSeconds(window: Window | undefined, runSeconds: number): number {
  if (!window) return runSeconds;
  return 'segments' in window ? window.seconds : (window.toMs - window.fromMs) / 1000;
}

export interface ServiceFigures {
  requests: number;
  errors: number;
  /** Requests per second over the window (or the run). */
  rps: number;
  errorRate: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

export interface EdgeFigures {
  source: string;
  destination: string;
  requests: number;
  errors: number;
  /** The latest request on it went over mutual TLS. */
  mtls: boolean;
}

interface EdgeEntry {
  source: string;
  sourceVersion: string;
  destination: string;
  destinationVersion: string;
  series: Series;
  mtls: boolean;
}

function figures(slot: Slot, seconds: number): ServiceFigures {
  return {
    requests: slot.requests,
    errors: slot.errors,
    rps: seconds > 0 ? slot.requests / seconds : 0,
    errorRate: slot.requests > 0 ? slot.errors / slot.requests : 0,
    p50Ms: slot.latency.quantile(0.5),
    p90Ms: slot.latency.quantile(0.9),
    p99Ms: slot.latency.quantile(0.99),
  };
}

/** Keeps only `retentionSeconds` of per-second slots, by the collector's clock. */
class Eviction {
  private next = 0;
  constructor(private readonly retentionSeconds: number) {}
  due(nowMs: number): number | undefined {
    const now = Math.floor(nowMs / 1000);
    if (now < this.next) return undefined;
    this.next = now + 60;
    return now - this.retentionSeconds;
  }
}

/**
 * Spans the sidecars recorded: the source of truth for counts, as Istio's metrics are.
 * Only spans that say so count; an app's own spans (a real SDK, or hand-written OTLP
 * naming no SDK) are traced and shown, never counted.
 */
export function isSidecarSpan(span: Span): boolean {
  return span.attributes['telemetry.sdk.name'] === SIDECAR_SDK;
}

const GATEWAY_NAME: string = GATEWAY.name;

export class RequestStats {
  private readonly services = new Map<string, Map<string, Series>>();
  /** By source and destination workload (service and version): Kiali's versioned-app graph; folded for the app graph. */
  private readonly edges = new Map<string, EdgeEntry>();
  private readonly eviction: Eviction;

  /** `retentionSeconds` of per-second slots are kept for live windows; segments and totals for ever. */
  constructor(retentionSeconds = 900) {
    this.eviction = new Eviction(retentionSeconds);
  }

  /**
   * Counts a span in `segment` of the timeline; `nowMs` is the collector's clock, which
   * alone decides what is old (one span with a wild timestamp must not sweep the windows).
   */
  add(span: Span, nowMs = Date.now(), segment = NO_SEGMENT): void {
    if (span.kind === 'server') {
      const version = attrString(span, ATTR.canonicalRevision) ?? attrString(span, 'service.version') ?? 'unknown';
      this.seriesFor(span.service, version).add(Math.floor(span.endMs / 1000), segment, isErrorStatus(statusOf(span)), durationMs(span));
    } else if (span.kind === 'client' && span.attributes[ATTR.final] === true) {
      const destination = attrString(span, ATTR.peerService);
      if (destination === undefined) return;
      const sourceVersion = attrString(span, ATTR.canonicalRevision) ?? attrString(span, 'service.version') ?? 'unknown';
      const destinationVersion = attrString(span, ATTR.destinationVersion) ?? 'unknown';
      const key = `${span.service}\u0000${sourceVersion}\u0000${destination}\u0000${destinationVersion}`;
      let edge = this.edges.get(key);
      if (!edge) {
        edge = { source: span.service, sourceVersion, destination, destinationVersion, series: new Series(), mtls: false };
        this.edges.set(key, edge);
      }
      edge.mtls = span.attributes[ATTR.mtls] === true;
      edge.series.add(Math.floor(span.endMs / 1000), segment, isErrorStatus(statusOf(span)), undefined);
    } else {
      return;
    }
    const before = this.eviction.due(nowMs);
    if (before !== undefined) this.evict(before);
  }

  private seriesFor(service: string, version: string): Series {
    let versions = this.services.get(service);
    if (!versions) {
      versions = new Map();
      this.services.set(service, versions);
    }
    let series = versions.get(version);
    if (!series) {
      series = new Series();
      versions.set(version, series);
    }
    return series;
  }

  private evict(beforeSecond: number): void {
    for (const versions of this.services.values()) for (const s of versions.values()) s.evictBefore(beforeSecond);
    for (const e of this.edges.values()) e.series.evictBefore(beforeSecond);
  }

  serviceNames(): string[] {
    return [...this.services.keys()];
  }

  versionNames(service: string): string[] {
    return [...(this.services.get(service)?.keys() ?? [])];
  }

  /** A service (or one version), over a window or, without one, the whole run of `runSeconds`. */
  service(service: string, version: string | undefined, window: Window | undefined, runSeconds = 0): ServiceFigures {
    const merged = newSlot();
    for (const [name, series] of this.services.get(service) ?? []) {
      if (version !== undefined && name !== version) continue;
      merge(merged, select(series, window));
    }
    return figures(merged, windowSeconds(window, runSeconds));
  }

  /** Requests in each of the last `seconds` whole seconds before `nowMs`, oldest first: one pass over the slots. */
  history(service: string, seconds: number, nowMs: number): number[] {
    const out = new Array<number>(seconds).fill(0);
    const last = Math.floor(nowMs / 1000);
    for (const series of this.services.get(service)?.values() ?? []) {
      for (const [second, slot] of series.slots) {
        const index = seconds - (last - second);
        if (index >= 0 && index < seconds) out[index]! += slot.requests;
      }
    }
    return out;
  }

  /** Edges between services; with `versions`, between `service version` workloads (a request that reached none goes to `service unknown`). */
  edgeList(window?: Window, versions = false): EdgeFigures[] {
    const out = new Map<string, EdgeFigures>();
    for (const edge of this.edges.values()) {
      const source = versions && edge.source !== GATEWAY_NAME ? `${edge.source} ${edge.sourceVersion}` : edge.source;
      const destination = versions ? `${edge.destination} ${edge.destinationVersion}` : edge.destination;
      const slot = select(edge.series, window);
      const key = `${source}\u0000${destination}`;
      const figures = out.get(key) ?? { source, destination, requests: 0, errors: 0, mtls: false };
      figures.requests += slot.requests;
      figures.errors += slot.errors;
      figures.mtls ||= edge.mtls && slot.requests > 0;
      out.set(key, figures);
    }
    return [...out.values()];
  }
}

export interface FlowFigures extends ServiceFigures {
  statuses: Record<string, number>;
  /** Answers a service gave degraded (its fallback for a failed call). */
  degraded: number;
  degradedRate: number;
}

/** Each traffic flow as its client saw it: status, latency, segment of the timeline. */
export class FlowStats {
  private readonly flows = new Map<string, { series: Series; statuses: Record<string, number> }>();
  private readonly eviction: Eviction;

  constructor(retentionSeconds = 900) {
    this.eviction = new Eviction(retentionSeconds);
  }

  /** One answer (status 0: the connection failed) at `nowMs`, for a request of `segment`. */
  add(flow: string, nowMs: number, segment: number, status: number, latencyMs: number, degraded = false): void {
    let entry = this.flows.get(flow);
    if (!entry) {
      entry = { series: new Series(), statuses: {} };
      this.flows.set(flow, entry);
    }
    entry.series.add(Math.floor(nowMs / 1000), segment, isErrorStatus(status), latencyMs, degraded);
    entry.statuses[status] = (entry.statuses[status] ?? 0) + 1;
    const before = this.eviction.due(nowMs);
    if (before !== undefined) for (const f of this.flows.values()) f.series.evictBefore(before);
  }

  names(): string[] {
    return [...this.flows.keys()];
  }

  flow(flow: string, window: Window | undefined, runSeconds = 0): FlowFigures {
    const entry = this.flows.get(flow);
    const slot = entry ? select(entry.series, window) : newSlot();
    return {
      ...figures(slot, windowSeconds(window, runSeconds)),
      statuses: { ...(entry?.statuses ?? {}) },
      degraded: slot.degraded,
      degradedRate: slot.requests > 0 ? slot.degraded / slot.requests : 0,
    };
  }
}
