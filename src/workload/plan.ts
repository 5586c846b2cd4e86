// What a sample service does for one request, decided from the seed and the request's
// identity alone: its own latency, whether it fails by itself, and which calls it makes.
// Pure, so the same request plans the same way in every process and on every runtime.

import type { Behaviour, Call } from '../scenario/model.js';
import { chance, unit } from '../policy/decide.js';
import { sampleLatency } from '../policy/latency.js';

export interface PlannedCall {
  call: Call;
  /** The identity the callee's decisions will be drawn from. */
  key: string;
}

export type PlannedStep = { kind: 'call'; call: PlannedCall } | { kind: 'parallel'; calls: PlannedCall[] };

export interface RequestPlan {
  latencyMs: number;
  /** The service's own errorRate fired: it answers errorStatus without making its calls. */
  fails: boolean;
  steps: PlannedStep[];
}

/**
 * `key` names this request at this hop (including its attempt, so each retry is
 * decided afresh). A call's key is the request's key and the call's position.
 */
export function planRequest(behaviour: Behaviour, seed: number, key: string): RequestPlan {
  const latencyMs = sampleLatency(behaviour.latency, unit(seed, 'latency', key, 'a'), unit(seed, 'latency', key, 'b'));
  const fails = behaviour.errorRate > 0 && unit(seed, 'error', key) < behaviour.errorRate;
  const steps: PlannedStep[] = [];
  let index = 0;
  const plan = (call: Call): PlannedCall | undefined => {
    const position = index++;
    if (!chance(call.probability, seed, 'call', key, String(position))) return undefined;
    return { call, key: `${key}/${position}` };
  };
  for (const step of behaviour.calls) {
    if (step.kind === 'call') {
      const planned = plan(step.call);
      if (planned) steps.push({ kind: 'call', call: planned });
    } else {
      const calls = step.calls.map(plan).filter((c): c is PlannedCall => c !== undefined);
      if (calls.length > 0) steps.push({ kind: 'parallel', calls });
    }
  }
  return { latencyMs, fails, steps };
}

/** The key a retried request is decided by: each attempt is its own draw. */
export function attemptKey(key: string, attempt: number): string {
  return attempt > 1 ? `${key}~${attempt}` : key;
}
