// mesh-sim's watch over itself during a run: once a second it samples the main
// process's event loop (the traffic, control plane and collector run there) and the
// machine's CPUs, takes what node processes reported of their own loops, and lets the
// OverloadWatch judge. Runs only while traffic does; its timer keeps nothing alive.

import os from 'node:os';
import { loopSampler, machineSampler } from './sampler.js';
import { DEFAULT_LIMITS, describeOverload, OverloadWatch, type OverloadLimits, type OverloadTotals } from './watch.js';

/** The main process, as the warning names it. */
export const MAIN_PROCESS = 'mesh-sim\'s main process (traffic, control plane, collector)';

export interface SelfLoadEvents {
  /** mesh-sim fell behind: the message says what was busy and what to do. */
  overloaded(message: string): void;
  recovered(message: string): void;
}

export class SelfLoadMonitor {
  private readonly watch: OverloadWatch;
  private timer: NodeJS.Timeout | undefined;
  private sampleMain = loopSampler();
  private sampleMachine = machineSampler();

  constructor(events: SelfLoadEvents, private readonly limits: OverloadLimits = DEFAULT_LIMITS, private readonly cpus = os.availableParallelism()) {
    this.watch = new OverloadWatch({
      overloaded: (cause) => events.overloaded(describeOverload(cause, this.cpus, this.limits.seconds)),
      recovered: (seconds) => events.recovered(`mesh-sim keeps up again, after ${Math.round(seconds)} s of falling behind`),
    }, limits);
  }

  /** A node process's own loop, over its last second. */
  report(source: string, busy: number): void {
    this.watch.report(source, busy, performance.now());
  }

  start(intervalMs = 1000): void {
    if (this.timer) return;
    // Fresh baselines: the time before the run (start-up) is not judged.
    this.sampleMain = loopSampler();
    this.sampleMachine = machineSampler();
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  get totals(): OverloadTotals {
    return this.watch.totals;
  }

  private tick(): void {
    const now = performance.now();
    this.watch.report(MAIN_PROCESS, this.sampleMain(), now);
    this.watch.tick(now, this.sampleMachine());
  }
}
