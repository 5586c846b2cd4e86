// Request statistics from spans, the way Istio's dashboards count: per service and
// version at the callee's inbound sidecar (reporter=destination), per edge at the
// caller's outbound sidecar (reporter=source). Kept per second for windows (timeline
// checks, the live UI) and as totals for the whole run, so memory stays bounded.

import { Sketch } from './sketch.js';
import { ATTR, attrString, durationMs, isErrorStatus, statusOf, type Span } from './span.js';

interface Slot {
  requests: number;
  errors: number;
  latency: Sketch;
}

const newSlot = (): Slot => ({ requests: 0, errors: 0, latency: new Sketch() });

class Series {
  readonly slots = new Map<number, Slot>();
  readonly total = newSlot();

  add(second: number, error: boolean, latencyMs: number | undefined): void {
    let slot = this.slots.get(second);
    if (!slot) {
      slot = newSlot();
      this.slots.set(second, slot);
    }
    for (const s of [slot, this.total]) {
      s.requests++;
      if (error) s.errors++;
      if (latencyMs !== undefined) s.latency.add(latencyMs);
    }
  }

  window(fromMs: number, toMs: number): Slot {
    const out = newSlot();
    // The slots whose middle falls in the window: as many seconds as the window is long.
    const first = Math.round(fromMs / 1000);
    const last = Math.round(toMs / 1000);
    for (const [second, slot] of this.slots) {
      if (second < first || second >= last) continue;
      out.requests += slot.requests;
      out.errors += slot.errors;
      out.latency.merge(slot.latency);
    }
    return out;
  }

  evictBefore(second: number): void {
    for (const key of this.slots.keys()) if (key < second) this.slots.delete(key);
  }
}

export interface Window {
  fromMs: number;
  toMs: number;
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

export class RequestStats {
  private readonly services = new Map<string, Map<string, Series>>();
  private readonly edges = new Map<string, { source: string; destination: string; series: Series }>();
  private nextEviction = 0;

  /** `retentionSeconds` of per-second slots are kept for windows; totals are kept for ever. */
  constructor(private readonly retentionSeconds = 900) {}

  /** Counts a span; `nowMs` is the collector's clock, which alone decides what is old. */
  add(span: Span, nowMs = Date.now()): void {
    if (span.kind === 'server') {
      const version = attrString(span, ATTR.canonicalRevision) ?? attrString(span, 'service.version') ?? 'unknown';
      this.seriesFor(span.service, version).add(Math.floor(span.endMs / 1000), isErrorStatus(statusOf(span)), durationMs(span));
    } else if (span.kind === 'client' && span.attributes[ATTR.final] === true) {
      const destination = attrString(span, ATTR.peerService);
      if (destination === undefined) return;
      const key = `${span.service}\u0000${destination}`;
      let edge = this.edges.get(key);
      if (!edge) {
        edge = { source: span.service, destination, series: new Series() };
        this.edges.set(key, edge);
      }
      edge.series.add(Math.floor(span.endMs / 1000), isErrorStatus(statusOf(span)), undefined);
    } else {
      return;
    }
    // Old slots go by the collector's clock, not by span times: one span with a wild
    // timestamp (any SDK may send one) must not sweep every window away.
    const now = Math.floor(nowMs / 1000);
    if (now >= this.nextEviction) {
      this.nextEviction = now + 60;
      this.evict(now - this.retentionSeconds);
    }
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
    const versions = this.services.get(service);
    const merged = newSlot();
    for (const [name, series] of versions ?? []) {
      if (version !== undefined && name !== version) continue;
      const slot = window ? series.window(window.fromMs, window.toMs) : series.total;
      merged.requests += slot.requests;
      merged.errors += slot.errors;
      merged.latency.merge(slot.latency);
    }
    const seconds = window ? (window.toMs - window.fromMs) / 1000 : runSeconds;
    return figures(merged, seconds);
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

  edgeList(window?: Window): EdgeFigures[] {
    return [...this.edges.values()].map(({ source, destination, series }) => {
      const slot = window ? series.window(window.fromMs, window.toMs) : series.total;
      return { source, destination, requests: slot.requests, errors: slot.errors };
    });
  }
}
