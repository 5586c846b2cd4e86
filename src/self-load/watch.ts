// Whether mesh-sim itself keeps up: judged once a second from how busy its processes'
// event loops were (each node process reports its own; see sampler.ts) and how busy
// the machine's CPUs were. Past the limits for two seconds in a row, mesh-sim is
// overloaded: the latencies it shows then include its own queueing, and a learner
// must be told so rather than shown mesh-sim's saturation as the mesh's behaviour.
// Two calm seconds in a row end an episode. Pure: the caller feeds it samples and
// the time.

export interface OverloadLimits {
  /** A process's event loop busy this share of a second or more is saturated. */
  loop: number;
  /** The machine's CPUs busy this share or more leave processes waiting for a CPU. */
  machine: number;
  /** Consecutive seconds over (or under) the limits that start (or end) an episode. */
  seconds: number;
  /** A process that has said nothing for this long is idle (nodes report only when busy). */
  staleMs: number;
}

export const DEFAULT_LIMITS: OverloadLimits = { loop: 0.9, machine: 0.95, seconds: 2, staleMs: 2500 };

/** What was over its limit: a process of mesh-sim's (by name), or the machine. */
export interface OverloadCause {
  source: string;
  /** 0 to 1. */
  busy: number;
  kind: 'loop' | 'machine';
}

export interface OverloadEvents {
  overloaded(cause: OverloadCause): void;
  /** `seconds`: how long the episode was busy. */
  recovered(seconds: number): void;
}

export interface OverloadTotals {
  /** Seconds of the run mesh-sim spent overloaded. */
  seconds: number;
  /** The busiest cause seen while overloaded. */
  worst: OverloadCause | undefined;
}

export class OverloadWatch {
  private readonly latest = new Map<string, { busy: number; atMs: number }>();
  private streak = 0;
  private overloaded = false;
  private lastTickMs: number | undefined;
  /** Busy time of the streak that may start an episode, of the episode under way, and of the episodes ended. */
  private busyStreakMs = 0;
  private episodeMs = 0;
  private totalMs = 0;
  private worst: OverloadCause | undefined;

  constructor(private readonly events: OverloadEvents, private readonly limits: OverloadLimits = DEFAULT_LIMITS) {}

  /** How busy a process's event loop was over its last second, 0 to 1. */
  report(source: string, busy: number, atMs: number): void {
    this.latest.set(source, { busy, atMs });
  }

  /** Once a second: the machine's CPU busy share over that second (undefined if unknown). */
  tick(atMs: number, machineBusy: number | undefined): void {
    const cause = this.cause(atMs, machineBusy);
    const secondMs = this.lastTickMs === undefined ? 1000 : atMs - this.lastTickMs;
    this.lastTickMs = atMs;
    const overloaded = this.overloaded;
    if (cause) {
      // Busy seconds count: in an episode, and those of a streak that may start one.
      if (overloaded) this.episodeMs += secondMs;
      else this.busyStreakMs += secondMs;
      if (overloaded || this.streak + 1 >= this.limits.seconds) this.noteWorst(cause);
    }
    // A streak counts seconds that disagree with the present state.
    if ((cause !== undefined) === overloaded) {
      this.streak = 0;
      if (!overloaded) this.busyStreakMs = 0;
      return;
    }
    if (++this.streak < this.limits.seconds) return;
    this.streak = 0;
    if (!overloaded) {
      this.overloaded = true;
      this.episodeMs = this.busyStreakMs;
      this.busyStreakMs = 0;
      this.events.overloaded(cause!);
    } else {
      this.events.recovered(this.closeEpisode());
    }
  }

  /** The episode under way ends: its busy seconds join the total. */
  private closeEpisode(): number {
    const seconds = this.episodeMs / 1000;
    this.overloaded = false;
    this.totalMs += this.episodeMs;
    this.episodeMs = 0;
    return seconds;
  }

  /** Ends an episode under way (the traffic stopped): its busy seconds, or undefined if there was none. */
  end(): number | undefined {
    this.streak = 0;
    this.busyStreakMs = 0;
    this.latest.clear();
    this.lastTickMs = undefined;
    return this.overloaded ? this.closeEpisode() : undefined;
  }

  /** Seconds overloaded: the busy seconds of every episode, the one under way included. */
  get totals(): OverloadTotals {
    return { seconds: Math.round((this.totalMs + this.episodeMs) / 1000), worst: this.worst };
  }

  private noteWorst(cause: OverloadCause): void {
    if (cause.busy > (this.worst?.busy ?? -1)) this.worst = cause;
  }

  /** The busiest process over its limit, else the machine if it is over its own, else nothing. */
  private cause(atMs: number, machineBusy: number | undefined): OverloadCause | undefined {
    let busiest: OverloadCause | undefined;
    for (const [source, { busy, atMs: at }] of this.latest) {
      if (atMs - at > this.limits.staleMs) continue;
      if (busy >= this.limits.loop && busy > (busiest?.busy ?? -1)) busiest = { source, busy, kind: 'loop' };
    }
    if (busiest) return busiest;
    if (machineBusy !== undefined && machineBusy >= this.limits.machine) return { source: 'machine', busy: machineBusy, kind: 'machine' };
    return undefined;
  }
}

const percent = (share: number) => `${Math.round(share * 100)}%`;

/** What a learner reads when mesh-sim falls behind: what was busy, what it means, what to do. */
export function describeOverload(cause: OverloadCause, cpus: number, seconds = DEFAULT_LIMITS.seconds): string {
  const what = cause.kind === 'loop'
    ? `${cause.source} was busy ${percent(cause.busy)} of the last ${seconds} s`
    : `this machine's ${cpus} CPUs were ${percent(cause.busy)} busy over the last ${seconds} s`;
  // The first sentence fits a terminal's line: it is what the live UI shows.
  return `mesh-sim cannot keep up: ${what}, so latencies now include its own queueing. ` +
    `Lower the traffic's rps, or run fewer services` +
    (cause.kind === 'loop' && cause.source.startsWith('node-') ? ` (--nodes spreads pods over more processes, up to one per CPU)` : '') + '.';
}
