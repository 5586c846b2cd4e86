// A process hosting pods tells mesh-sim how busy its event loop is, without costing
// anything while idle: sampling runs once a second while there is activity (the pods'
// access-log batches) or the loop is busy, and a sample is sent only while the loop is
// at least half busy, plus once as it calms, so the watch sees the episode end.

import { loopSampler } from './sampler.js';

export class BusyReporter {
  private timer: NodeJS.Timeout | undefined;
  private sample = loopSampler();
  private activeSinceSample = false;
  private previous = 0;

  constructor(
    private readonly send: (busy: number) => void,
    private readonly reportFrom = 0.5,
    private readonly intervalMs = 1000,
  ) {}

  /** Something happened: the loop is sampled for at least another interval. Cheap enough for every batch. */
  active(): void {
    this.activeSinceSample = true;
    if (this.timer) return;
    // A fresh baseline: the idle time before this activity is not judged.
    this.sample = loopSampler();
    this.arm();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.timer = setTimeout(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private tick(): void {
    const busy = this.sample();
    if (busy >= this.reportFrom || this.previous >= this.reportFrom) this.send(busy);
    this.previous = busy;
    // On while there is activity, and while busy: a busy sample is always followed by one more.
    if (this.activeSinceSample || busy >= this.reportFrom) {
      this.activeSinceSample = false;
      this.arm();
    } else {
      this.timer = undefined;
      this.previous = 0;
    }
  }
}
