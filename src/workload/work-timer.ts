// Waiting out a service's own work time as the scenario means it: counted on a monotonic
// clock from the request's arrival (time the event loop took to reach the request is
// part of it, not added to it), and corrected for timer lateness: Node's timers fire a
// little after their time, so each wait is cut short by how late timers typically fire
// (a running median, bounded), and a 10 ms service reads 10 ms, not 11. A median, not
// a mean: lateness has a long tail under load, and a mean would make the typical wait
// short.

/** The most a wait is cut short by: lateness past this is load, not timer granularity. */
const MAX_CORRECTION_MS = 2;
/** How far one observation moves the running median (ms). */
const STEP = 0.05;

export interface TimerHost {
  now(): number;
  schedule(fn: () => void, ms: number): void;
}

const realTimers: TimerHost = { now: () => performance.now(), schedule: (fn, ms) => void setTimeout(fn, ms) };

export class WorkTimer {
  /** How late timers typically fire now: a running median (ms). */
  lateness = 0;

  constructor(private readonly host: TimerHost = realTimers) {}

  now(): number {
    return this.host.now();
  }

  /**
   * Resolves at `deadline` (this timer's clock), as near as timers allow: at once when
   * less than half a millisecond is left, else after a timer asked early by the typical
   * lateness, but never for less than the millisecond Node's timers wait at least (a
   * 1 ms service still waits its millisecond).
   */
  until(deadline: number): Promise<void> {
    const now = this.host.now();
    const remaining = deadline - now;
    if (remaining < 0.5) return Promise.resolve();
    const wait = Math.max(1, remaining - Math.min(MAX_CORRECTION_MS, this.lateness));
    const asked = now + wait;
    return new Promise((resolve) => this.host.schedule(() => {
      const late = Math.max(0, this.host.now() - asked);
      this.lateness = Math.max(0, this.lateness + STEP * Math.sign(late - this.lateness));
      resolve();
    }, wait));
  }
}
