// Which window a request belongs to, as the scenario contract defines it: the window in
// which it entered the mesh. Requests are numbered per flow, so the timeline's events cut
// each flow's numbers into segments: a check closes a segment (and opens no window), any
// other event opens a new window, and while a `set` or `apply` is being pushed the
// requests that start belong to no window at all. A check judges the segments since its
// window opened: exactly the requests that started in it, whatever their spans' timing.

export type Limits = ReadonlyMap<string, number>;

interface Segment {
  /** Each flow's first request number in this segment. */
  from: Limits;
  /** Counted in a window (false: started while a push was under way). */
  counted: boolean;
  /** The window this segment belongs to (segments of one window share it). */
  window: number;
}

export interface CheckWindow {
  /** The segments judged. */
  segments: number[];
  /** Each flow's first request number after the window: all below must be answered first. */
  until: Limits;
  /** Scenario time the window opened, and the check's time (ms). */
  fromMs: number;
  toMs: number;
}

/** Segment ids a span may be attributed to when it belongs to no flow of this run. */
export const NO_SEGMENT = -1;

export class WindowBook {
  private readonly segments: Segment[] = [];
  private windowOpenedAtMs = 0;
  private windowId = 0;
  /** Segments of the current window, oldest first. */
  private current: number[] = [];

  constructor() {
    this.segments.push({ from: new Map(), counted: true, window: 0 });
    this.current = [0];
  }

  /** The segment of request `n` of a flow. */
  segmentOf(flow: string, n: number): number {
    // Segments are few (one per timeline event): a scan from the newest is cheap and
    // finds recent requests at once.
    for (let s = this.segments.length - 1; s > 0; s--) {
      const from = this.segments[s]!.from.get(flow);
      if (from !== undefined && n >= from) return s;
    }
    return 0;
  }

  isCounted(segment: number): boolean {
    return this.segments[segment]?.counted ?? false;
  }

  private cut(limits: Limits, counted: boolean, window: number): number {
    this.segments.push({ from: limits, counted, window });
    return this.segments.length - 1;
  }

  /** A check at scenario time `atMs`: the window it judges, ending before `limits`. */
  checkpoint(limits: Limits, atMs: number): CheckWindow {
    const judged = this.current.filter((s) => this.segments[s]!.counted);
    const window: CheckWindow = { segments: judged, until: limits, fromMs: this.windowOpenedAtMs, toMs: atMs };
    // Requests after the check still belong to the same window, for the next check at the same time.
    this.current.push(this.cut(limits, true, this.windowId));
    return window;
  }

  /** A change is being pushed from `limits` on: what starts now belongs to no window. */
  pause(limits: Limits): void {
    this.cut(limits, false, -1);
    this.current = [];
  }

  /** Any event other than a check (or a push now in effect) opens a new window at `limits`. */
  open(limits: Limits, atMs: number): void {
    this.windowId++;
    this.windowOpenedAtMs = atMs;
    this.current = [this.cut(limits, true, this.windowId)];
  }

  /** All segments ever counted (for the whole run's figures). */
  get size(): number {
    return this.segments.length;
  }
}
