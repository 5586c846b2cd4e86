// When each request of a flow arrives, from the seed: the n-th gap of a Poisson process
// (exponential gaps) or of a uniform one (equal gaps), at the flow's rate.

import type { Arrival } from '../scenario/model.js';
import { unit } from '../policy/decide.js';

export function gapMs(seed: number, flowId: string, n: number, rps: number, arrival: Arrival): number {
  if (rps <= 0) return Infinity;
  const mean = 1000 / rps;
  if (arrival === 'uniform') return mean;
  return -Math.log(1 - unit(seed, 'arrival', flowId, String(n))) * mean;
}

/** The decision key of request n of a flow: what every hop's decisions derive from. */
export function requestKey(flowId: string, n: number): string {
  return `${flowId}.${n}`;
}
