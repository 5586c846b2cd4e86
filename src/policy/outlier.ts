// Envoy's consecutive-5xx outlier detection for one cluster, with time passed in so
// it can be tested without clocks. A host failing consecutive5xxErrors times in a row
// is ejected if the ejected share, counting it, stays within maxEjectionPercent (as
// Envoy does since 1.31; Istio does not set always_eject_one_host, so its default of
// 10 % ejects nothing from a cluster of fewer than 10 hosts). An ejection lasts
// baseEjectionTime times the number of times the host has been ejected, capped at
// 300 s. Each interval returns hosts whose time is up, and forgives one past ejection
// of a host that stayed healthy through it.

import type { OutlierDetection } from '../scenario/model.js';

/** Envoy's max_ejection_time default. */
export const MAX_EJECTION_MS = 300_000;

interface HostState {
  consecutiveFailures: number;
  ejectedAt: number | undefined;
  ejectedForMs: number;
  /** How many times in a row it has been ejected: the multiplier of the next ejection. */
  ejections: number;
}

export type OutlierEvent =
  | { type: 'eject'; host: string; forMs: number; consecutiveFailures: number; ejections: number }
  | { type: 'uneject'; host: string }
  | { type: 'not-ejected'; host: string; reason: string };

export class OutlierDetector {
  private readonly hosts = new Map<string, HostState>();
  private lastSweep: number;

  constructor(
    private config: OutlierDetection,
    now: number,
  ) {
    this.lastSweep = now;
  }

  reconfigure(config: OutlierDetection): void {
    this.config = config;
  }

  /** The cluster's hosts changed: forget the gone, welcome the new. */
  setHosts(hosts: Iterable<string>): void {
    const keep = new Set(hosts);
    for (const host of [...this.hosts.keys()]) if (!keep.has(host)) this.hosts.delete(host);
    for (const host of keep) if (!this.hosts.has(host)) this.hosts.set(host, { consecutiveFailures: 0, ejectedAt: undefined, ejectedForMs: 0, ejections: 0 });
  }

  isEjected(host: string): boolean {
    return this.hosts.get(host)?.ejectedAt !== undefined;
  }

  get ejectedCount(): number {
    let n = 0;
    for (const state of this.hosts.values()) if (state.ejectedAt !== undefined) n++;
    return n;
  }

  /**
   * One attempt's result: `failed` for a 5xx or a locally seen failure (connect
   * failure, reset, timeout). Returns what the detector did about it.
   */
  record(host: string, failed: boolean, now: number): OutlierEvent | undefined {
    const state = this.hosts.get(host);
    if (!state) return undefined;
    if (!failed) {
      state.consecutiveFailures = 0;
      return undefined;
    }
    state.consecutiveFailures++;
    if (state.ejectedAt !== undefined || state.consecutiveFailures < this.config.consecutive5xxErrors) return undefined;
    const ejected = this.ejectedCount;
    const total = this.hosts.size;
    if ((100 * (ejected + 1)) / total > this.config.maxEjectionPercent) {
      state.consecutiveFailures = 0;
      return {
        type: 'not-ejected',
        host,
        reason: `ejecting it would make ${ejected + 1} of ${total} hosts ejected, over maxEjectionPercent ${this.config.maxEjectionPercent}`,
      };
    }
    const failures = state.consecutiveFailures;
    state.ejections++;
    state.ejectedAt = now;
    state.ejectedForMs = Math.min(this.config.baseEjectionTimeMs * state.ejections, Math.max(MAX_EJECTION_MS, this.config.baseEjectionTimeMs));
    state.consecutiveFailures = 0;
    return { type: 'eject', host, forMs: state.ejectedForMs, consecutiveFailures: failures, ejections: state.ejections };
  }

  /** Runs the interval sweeps due by `now`; returns hosts brought back. */
  sweep(now: number): OutlierEvent[] {
    const events: OutlierEvent[] = [];
    while (now - this.lastSweep >= this.config.intervalMs) {
      this.lastSweep += this.config.intervalMs;
      const at = this.lastSweep;
      for (const [host, state] of this.hosts) {
        if (state.ejectedAt !== undefined) {
          if (at - state.ejectedAt >= state.ejectedForMs) {
            state.ejectedAt = undefined;
            events.push({ type: 'uneject', host });
          }
        } else if (state.ejections > 0) {
          state.ejections--;
        }
      }
    }
    return events;
  }
}

/** How many hosts of a cluster of `hosts` can be ejected at once under `maxEjectionPercent`. */
export function ejectableHosts(hosts: number, maxEjectionPercent: number): number {
  return Math.floor((hosts * maxEjectionPercent) / 100 + 1e-9);
}
