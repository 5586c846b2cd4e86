// Attributing spans to the request that entered the mesh, for honest counts: a span
// counts once the traffic generator has its request's answer (or the request failed),
// in the window that request started in. Spans of a request still in flight wait; at
// the end of a run, those of requests never answered are dropped as unanswered instead
// of counted as errors. Only the sidecars' spans count (an app's own SDK spans are
// traced, not counted twice), as Istio's metrics come from its proxies alone.

import { ATTR, attrString, type Span } from './span.js';
import { isSidecarSpan, type RequestStats } from './stats.js';
import { NO_SEGMENT, type WindowBook } from './windows.js';

/** `flow.n` of a request key (`flow.n/0/1~2`, `flow.n!m`), or undefined for keys no flow made. */
export function rootOf(key: string | undefined): { flow: string; n: number; root: string } | undefined {
  if (!key) return undefined;
  const match = /^([a-z0-9-]+)\.(\d+)(?=$|[/~!^])/.exec(key);
  if (!match) return undefined;
  return { flow: match[1]!, n: Number(match[2]), root: `${match[1]}.${match[2]}` };
}

/** Held spans per request at most, and requests held at most: a bound for a flood. */
const MAX_HELD_PER_ROOT = 500;
const MAX_HELD_ROOTS = 20_000;

export class SpanAttribution {
  private readonly held = new Map<string, Span[]>();
  /** Spans dropped: their request was never answered, or holding them would pass the bound. */
  dropped = 0;

  constructor(
    private readonly stats: Pick<RequestStats, 'add'>,
    private readonly book: WindowBook,
    private readonly inFlight: (flow: string, n: number) => boolean,
    private readonly clock: () => number = Date.now,
  ) {}

  add(span: Span): void {
    if (!isSidecarSpan(span)) return;
    const root = rootOf(attrString(span, ATTR.requestKey));
    if (root && this.inFlight(root.flow, root.n)) {
      let list = this.held.get(root.root);
      if (!list) {
        if (this.held.size >= MAX_HELD_ROOTS) {
          this.dropped++;
          return;
        }
        list = [];
        this.held.set(root.root, list);
      }
      if (list.length < MAX_HELD_PER_ROOT) list.push(span);
      else this.dropped++;
      return;
    }
    this.count(span, root);
  }

  private count(span: Span, root: ReturnType<typeof rootOf>): void {
    const segment = root ? this.book.segmentOf(root.flow, root.n) : NO_SEGMENT;
    this.stats.add(span, this.clock(), segment !== NO_SEGMENT && this.book.isCounted(segment) ? segment : NO_SEGMENT);
  }

  /** The request `flow.n` has its answer: its spans count now. */
  answered(flow: string, n: number): void {
    const key = `${flow}.${n}`;
    const list = this.held.get(key);
    if (!list) return;
    this.held.delete(key);
    const root = { flow, n, root: key };
    for (const span of list) this.count(span, root);
  }

  /** The run is over: what still waits belongs to requests never answered. */
  finish(): number {
    let dropped = 0;
    for (const list of this.held.values()) dropped += list.length;
    this.held.clear();
    this.dropped += dropped;
    return dropped;
  }
}
