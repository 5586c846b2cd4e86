// Sampling a service's own work time from its latency spec, deterministically from
// two uniform numbers (so the seed fixes it).

import type { LatencySpec } from '../scenario/model.js';

/** z for the 99th percentile of the standard normal distribution. */
const Z99 = 2.3263478740408408;

/** A standard normal deviate from two uniforms in [0, 1) (Box-Muller). */
export function normal(u1: number, u2: number): number {
  const r = Math.sqrt(-2 * Math.log(1 - u1));
  return r * Math.cos(2 * Math.PI * u2);
}

export function sampleLatency(spec: LatencySpec, u1: number, u2: number): number {
  switch (spec.kind) {
    case 'constant':
      return spec.ms;
    case 'normal':
      return Math.max(0, spec.meanMs + spec.stddevMs * normal(u1, u2));
    case 'percentiles': {
      // Log-normal through p50 and p99: a long tail, as real services have.
      if (spec.p50Ms <= 0) return 0;
      const sigma = Math.log(spec.p99Ms / spec.p50Ms) / Z99;
      return spec.p50Ms * Math.exp(sigma * normal(u1, u2));
    }
  }
}
