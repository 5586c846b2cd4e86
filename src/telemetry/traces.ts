// Trace assembly: spans grouped by trace id into traces, judged complete when every
// span's parent is present, with depth counted in services. Recent traces are kept for
// the UI (bounded); older ones are folded into counters for the summary.

import { ATTR, attrString, isConnectionRecord, isErrorStatus, statusOf, type Span } from './span.js';

export interface TraceShape {
  traceId: string;
  root: Span | undefined;
  spanCount: number;
  /** Every span's parent is present and there is exactly one root. */
  complete: boolean;
  /** Services on the longest path from the root, counted by their server spans. */
  depth: number;
  services: string[];
  startMs: number;
  durationMs: number;
  error: boolean;
}

export function analyseTrace(spans: readonly Span[]): TraceShape {
  const byId = new Map<string, Span>();
  for (const s of spans) byId.set(s.spanId, s);
  const children = new Map<string, Span[]>();
  const roots: Span[] = [];
  let orphans = 0;
  for (const span of spans) {
    if (span.parentSpanId === undefined) roots.push(span);
    else if (!byId.has(span.parentSpanId)) orphans++;
    else {
      const list = children.get(span.parentSpanId);
      if (list) list.push(span);
      else children.set(span.parentSpanId, [span]);
    }
  }
  // Depth in services (server spans) on the longest path, walked without recursion so a
  // chain of any length (a forged one, say) cannot overflow the stack; each span once.
  const starts = spans.filter((s) => s.parentSpanId === undefined || !byId.has(s.parentSpanId));
  let depth = 0;
  const seen = new Set<string>();
  const stack: Array<{ span: Span; above: number }> = starts.map((span) => ({ span, above: 0 }));
  while (stack.length > 0) {
    const { span, above } = stack.pop()!;
    if (seen.has(span.spanId)) continue;
    seen.add(span.spanId);
    const here = above + (span.kind === 'server' ? 1 : 0);
    if (here > depth) depth = here;
    for (const child of children.get(span.spanId) ?? []) stack.push({ span: child, above: here });
  }
  let startMs = Infinity;
  let endMs = -Infinity;
  for (const s of spans) {
    if (s.startMs < startMs) startMs = s.startMs;
    if (s.endMs > endMs) endMs = s.endMs;
  }
  const root = roots.length === 1 ? roots[0] : starts.sort((a, b) => a.startMs - b.startMs)[0];
  const services = [...new Set(spans.filter((s) => s.kind === 'server').map((s) => s.service))];
  return {
    traceId: spans[0]?.traceId ?? '',
    root,
    spanCount: spans.length,
    complete: orphans === 0 && roots.length === 1,
    depth,
    services,
    startMs,
    durationMs: endMs - startMs,
    error: root ? rootFailed(root) : spans.some((s) => s.error),
  };
}

function rootFailed(root: Span): boolean {
  return root.error || isErrorStatus(statusOf(root));
}

interface OpenTrace {
  spans: Span[];
  lastSeenMs: number;
}

export interface TraceTotals {
  count: number;
  complete: number;
  maxDepth: number;
}

/**
 * Traces as they arrive. A trace is open while spans may still come; it settles
 * `settleMs` after its last span and is then counted for good. At most `maxOpen`
 * traces are held; past that the oldest settle early.
 */
/** The most spans one trace may hold: a real request through a mesh has far fewer; the rest are dropped and counted. */
export const MAX_SPANS_PER_TRACE = 2000;

export class TraceStore {
  private readonly open = new Map<string, OpenTrace>();
  /** Spans dropped because their trace already held MAX_SPANS_PER_TRACE. */
  droppedSpans = 0;
  private readonly settled: TraceShape[] = [];
  private readonly settledSpans = new Map<string, Span[]>();
  private readonly totals: TraceTotals = { count: 0, complete: 0, maxDepth: 0 };
  private readonly listeners = new Set<(trace: TraceShape) => void>();

  constructor(
    /** Quiet time before a trace counts as whole; a straggler reopens it, so this can be short. */
    private readonly settleMs = 1000,
    private readonly maxOpen = 20_000,
    private readonly keepSettled = 500,
  ) {}

  add(span: Span, nowMs: number): void {
    if (isConnectionRecord(span)) return;
    let trace = this.open.get(span.traceId);
    if (!trace) {
      const late = this.settledSpans.get(span.traceId);
      if (late) {
        // A straggler for a settled trace: recount it with the late span.
        this.unsettle(span.traceId, late);
        trace = this.open.get(span.traceId)!;
      } else {
        trace = { spans: [], lastSeenMs: nowMs };
        this.open.set(span.traceId, trace);
      }
    } else {
      // Keep insertion order by recency, so the oldest open trace is first.
      this.open.delete(span.traceId);
      this.open.set(span.traceId, trace);
    }
    if (trace.spans.length >= MAX_SPANS_PER_TRACE) {
      this.droppedSpans++;
      return;
    }
    trace.spans.push(span);
    trace.lastSeenMs = nowMs;
    if (this.open.size > this.maxOpen) {
      const [oldest] = this.open.keys();
      if (oldest !== undefined) this.settle(oldest);
    }
  }

  /** Settles every trace quiet since `settleMs` (or all, with `all`). */
  tick(nowMs: number, all = false): void {
    for (const [traceId, trace] of this.open) {
      if (!all && nowMs - trace.lastSeenMs < this.settleMs) break;
      this.settle(traceId);
    }
  }

  private settle(traceId: string): void {
    const trace = this.open.get(traceId);
    if (!trace) return;
    this.open.delete(traceId);
    const shape = analyseTrace(trace.spans);
    this.totals.count++;
    if (shape.complete) this.totals.complete++;
    this.totals.maxDepth = Math.max(this.totals.maxDepth, shape.depth);
    this.settled.push(shape);
    this.settledSpans.set(traceId, trace.spans);
    while (this.settled.length > this.keepSettled) {
      const dropped = this.settled.shift()!;
      this.settledSpans.delete(dropped.traceId);
    }
    for (const listener of this.listeners) listener(shape);
  }

  private unsettle(traceId: string, spans: Span[]): void {
    const index = this.settled.findIndex((t) => t.traceId === traceId);
    if (index !== -1) {
      const [shape] = this.settled.splice(index, 1);
      this.totals.count--;
      if (shape!.complete) this.totals.complete--;
    }
    this.settledSpans.delete(traceId);
    this.open.set(traceId, { spans: [...spans], lastSeenMs: 0 });
  }

  /** Counted traces plus open ones, as they stand now. */
  summary(): TraceTotals {
    const out = { ...this.totals };
    for (const trace of this.open.values()) {
      const shape = analyseTrace(trace.spans);
      out.count++;
      if (shape.complete) out.complete++;
      out.maxDepth = Math.max(out.maxDepth, shape.depth);
    }
    return out;
  }

  onSettled(listener: (trace: TraceShape) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Recently settled traces, newest last. */
  recent(): readonly TraceShape[] {
    return this.settled;
  }

  spansOf(traceId: string): Span[] | undefined {
    return this.settledSpans.get(traceId) ?? this.open.get(traceId)?.spans;
  }

  /** The first complete trace seen, if any: what "time to first trace" measures. */
  firstComplete(): TraceShape | undefined {
    return this.settled.find((t) => t.complete) ?? [...this.open.values()].map((t) => analyseTrace(t.spans)).find((t) => t.complete);
  }
}

export function rootService(shape: TraceShape): string | undefined {
  if (!shape.root) return undefined;
  return shape.root.kind === 'client' ? attrString(shape.root, ATTR.peerService) ?? shape.root.service : shape.root.service;
}
