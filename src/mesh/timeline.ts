// Replaying a scenario's timeline: each event at its time after the start, in order.
// An instructor can jump to the next event at once; what follows shifts with it.

import type { TimelineEvent } from '../scenario/model.js';

export class TimelineRunner {
  private index = 0;
  private startedAt = 0;
  /** Time skipped by jumping ahead: added to the clock. */
  private skippedMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private stopped = false;

  constructor(
    private events: readonly TimelineEvent[],
    private readonly run: (event: TimelineEvent) => Promise<void>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  start(): void {
    this.startedAt = this.now();
    this.schedule();
  }

  /** Milliseconds of scenario time since the start. */
  elapsed(): number {
    return this.now() - this.startedAt + this.skippedMs;
  }

  /** The clock time (this runner's clock) at which scenario time `atMs` falls. */
  clockAt(atMs: number): number {
    return this.startedAt + atMs - this.skippedMs;
  }

  /** How many events have run (or been passed over by an edit). */
  get position(): number {
    return this.index;
  }

  next(): TimelineEvent | undefined {
    return this.events[this.index];
  }

  get done(): boolean {
    return this.index >= this.events.length;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped || this.busy) return;
    const event = this.events[this.index];
    if (!event) return;
    const wait = Math.max(0, event.atMs - this.elapsed());
    this.timer = setTimeout(() => void this.fire(), wait);
  }

  private async fire(): Promise<void> {
    if (this.stopped || this.busy) return;
    this.busy = true;
    try {
      // Events due now run in order, each finished before the next.
      while (!this.stopped && this.index < this.events.length && this.events[this.index]!.atMs <= this.elapsed()) {
        const event = this.events[this.index++]!;
        await this.run(event);
      }
    } finally {
      this.busy = false;
      this.schedule();
    }
  }

  /**
   * The scenario file was edited (`up --watch`): its new timeline runs on from the
   * present; events at or before now are taken as having happened.
   */
  replace(events: readonly TimelineEvent[]): void {
    const elapsed = this.elapsed();
    this.events = events;
    this.index = events.findIndex((e) => e.atMs > elapsed);
    if (this.index < 0) this.index = events.length;
    this.schedule();
  }

  /** Instructor mode: the next event happens now, and the rest of the timeline moves up. */
  skipToNext(): void {
    const event = this.events[this.index];
    if (!event || this.stopped) return;
    const gap = event.atMs - this.elapsed();
    if (gap > 0) this.skippedMs += gap;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
