// mesh-sim's watch over itself during a run: once a second it samples the main
// process's event loop (the traffic, control plane and collector run there) and the
// machine's CPUs, takes what node processes reported of their own loops, and lets the
// OverloadWatch judge. Runs only while traffic does; its timer keeps nothing alive.
// It keeps each episode's span on the scenario's clock, so a check judged on a window
// mesh-sim fell behind in can say so.

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

/** When mesh-sim fell behind, in scenario time (ms); `toMs` undefined while it lasts. */
export interface Episode {
  fromMs: number;
  toMs: number | undefined;
}

export interface SelfLoadOptions {
  limits?: OverloadLimits;
  cpus?: number;
  /** Make the samplers (fresh baselines at each start); tests give their own. */
  mainSampler?: () => () => number;
  machineSampler?: () => () => number | undefined;
}

export class SelfLoadMonitor {
  private readonly watch: OverloadWatch;
  private readonly episodes: Episode[] = [];
  private readonly limits: OverloadLimits;
  private readonly cpus: number;
  private readonly newMainSampler: () => () => number;
  private readonly newMachineSampler: () => () => number | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Made at each start, so their baselines are the traffic's start. */
  private samplers: { main: () => number; machine: () => number | undefined } | undefined;

  /** `clock`: scenario time in ms, the clock check windows are on. */
  constructor(private readonly events: SelfLoadEvents, private readonly clock: () => number, options: SelfLoadOptions = {}) {
    const limits = (this.limits = options.limits ?? DEFAULT_LIMITS);
    this.cpus = options.cpus ?? os.availableParallelism();
    this.newMainSampler = options.mainSampler ?? loopSampler;
    this.newMachineSampler = options.machineSampler ?? (() => machineSampler());
    // Either verdict is given once its streak is complete: the change came that many seconds before.
    const streakMs = limits.seconds * 1000;
    this.watch = new OverloadWatch({
      overloaded: (cause) => {
        this.episodes.push({ fromMs: Math.max(0, this.clock() - streakMs), toMs: undefined });
        events.overloaded(describeOverload(cause, this.cpus, this.limits.seconds));
      },
      recovered: (seconds) => {
        const episode = this.episodes[this.episodes.length - 1];
        if (episode) episode.toMs = Math.max(episode.fromMs, this.clock() - streakMs);
        events.recovered(`mesh-sim keeps up again, after ${Math.round(seconds)} s of falling behind`);
      },
    }, limits);
  }

  /** Whether mesh-sim fell behind at any time between `fromMs` and `toMs` (scenario time). */
  overlapped(fromMs: number, toMs: number): boolean {
    return this.episodes.some((e) => e.fromMs < toMs && (e.toMs ?? Infinity) > fromMs);
  }

  /** A node process's own loop, over its last second; while traffic runs (start-up is not judged). */
  report(source: string, busy: number): void {
    if (this.timer) this.watch.report(source, busy, performance.now());
  }

  start(intervalMs = 1000): void {
    if (this.timer) return;
    // Fresh baselines: the time before the run (start-up) is not judged.
    this.samplers = { main: this.newMainSampler(), machine: this.newMachineSampler() };
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  /** The traffic stopped: so does the watch, and an episode under way ends (the UI drops its line). */
  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    const seconds = this.watch.end();
    if (seconds === undefined) return;
    const episode = this.episodes[this.episodes.length - 1];
    if (episode && episode.toMs === undefined) episode.toMs = Math.max(episode.fromMs, this.clock());
    this.events.recovered(`the traffic stopped; mesh-sim had fallen behind for ${Math.round(seconds)} s`);
  }

  get totals(): OverloadTotals {
    return this.watch.totals;
  }

  /** Its timer's once-a-second work, once started (a test calls it with its own time). */
  tick(now = performance.now()): void {
    if (!this.samplers) return;
    this.watch.report(MAIN_PROCESS, this.samplers.main(), now);
    this.watch.tick(now, this.samplers.machine());
  }
}
