// Envoy's consecutive-5xx outlier detection for one cluster, with time passed in so
// it can be tested without clocks. A host failing consecutive5xxErrors times in a row
// is ejected if the ejected share, counting it, stays within maxEjectionPercent (as
// Envoy does since 1.31; Istio does not set always_eject_one_host, so its default of
// 10 % ejects nothing from a cluster of fewer than 10 hosts). An ejection lasts
// baseEjectionTime times the number of times the host has been ejected, capped at
// 300 s. Each interval returns hosts whose time is up, and forgives one past ejection
// of a host that stayed healthy through it.

import type { OutlierDetectionSettings as OutlierDetection } from './config.js';

/** Envoy's max_ejection_time default. */
export const MAX_EJECTION_MS = 300_000;

interface HostState {
  consecutiveFailures: number;
  /** 502, 503 and 504 (and local failures) in a row, for consecutiveGatewayErrors. */
  consecutiveGatewayFailures: number;
  ejectedAt: number | undefined;
  ejectedForMs: number;
  /** How many times in a row it has been ejected: the multiplier of the next ejection. */
  ejections: number;
}

/** Envoy's names for why a host was ejected. */
export type EjectionType = 'CONSECUTIVE_5XX' | 'CONSECUTIVE_GATEWAY_FAILURE';

export type OutlierEvent =
  | { type: 'eject'; host: string; forMs: number; consecutiveFailures: number; ejections: number; reason: EjectionType }
  | { type: 'uneject'; host: string }
  | { type: 'not-ejected'; host: string; reason: string; ejection: EjectionType };

/** What a local failure counts as, when external and local errors are not split (Istio's default). */
export const LOCAL_CONNECT_FAILURE = 503;
export const LOCAL_TIMEOUT = 504;

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
    for (const host of keep) {
      if (!this.hosts.has(host)) this.hosts.set(host, { consecutiveFailures: 0, consecutiveGatewayFailures: 0, ejectedAt: undefined, ejectedForMs: 0, ejections: 0 });
    }
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
   * One attempt's result as an HTTP status: the upstream's, or for a failure seen locally
   * Envoy's stand-in (LOCAL_CONNECT_FAILURE, LOCAL_TIMEOUT). Returns what the detector did.
   */
  record(host: string, status: number, now: number): OutlierEvent | undefined {
    const state = this.hosts.get(host);
    if (!state) return undefined;
    if (status < 500) {
      state.consecutiveFailures = 0;
      state.consecutiveGatewayFailures = 0;
      return undefined;
    }
    state.consecutiveFailures++;
    if (status >= 502 && status <= 504) state.consecutiveGatewayFailures++;
    else state.consecutiveGatewayFailures = 0;
    if (state.ejectedAt !== undefined) return undefined;
    const { consecutive5xxErrors, consecutiveGatewayErrors } = this.config;
    let reason: EjectionType | undefined;
    let failures = 0;
    if (consecutive5xxErrors > 0 && state.consecutiveFailures >= consecutive5xxErrors) {
      reason = 'CONSECUTIVE_5XX';
      failures = state.consecutiveFailures;
    } else if (consecutiveGatewayErrors > 0 && state.consecutiveGatewayFailures >= consecutiveGatewayErrors) {
      reason = 'CONSECUTIVE_GATEWAY_FAILURE';
      failures = state.consecutiveGatewayFailures;
    }
    if (!reason) return undefined;
    const ejected = this.ejectedCount;
    const total = this.hosts.size;
    state.consecutiveFailures = 0;
    state.consecutiveGatewayFailures = 0;
    if ((100 * (ejected + 1)) / total > this.config.maxEjectionPercent) {
      return {
        type: 'not-ejected',
        host,
        ejection: reason,
        reason: `ejecting it would make ${ejected + 1} of ${total} hosts ejected, over maxEjectionPercent ${this.config.maxEjectionPercent}`,
      };
    }
    state.ejections++;
    state.ejectedAt = now;
    state.ejectedForMs = Math.min(this.config.baseEjectionTimeMs * state.ejections, Math.max(MAX_EJECTION_MS, this.config.baseEjectionTimeMs));
    return { type: 'eject', host, forMs: state.ejectedForMs, consecutiveFailures: failures, ejections: state.ejections, reason };
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
