import test from 'ava';
import { attemptKey, planRequest } from '../../src/workload/plan.js';
import type { Behaviour } from '../../src/scenario/model.js';

const behaviour: Behaviour = {
  latency: { kind: 'normal', meanMs: 10, stddevMs: 3 },
  errorRate: 0.3,
  errorStatus: 503,
  responseSize: 128,
  image: undefined,
  command: undefined,
  calls: [
    { kind: 'call', call: { service: 'a', path: '/', method: 'GET', optional: false, probability: 100, timeoutMs: undefined, retries: 0, fallback: undefined } },
    { kind: 'parallel', calls: [
      { service: 'b', path: '/', method: 'GET', optional: false, probability: 50, timeoutMs: undefined, retries: 0, fallback: undefined },
      { service: 'c', path: '/', method: 'GET', optional: true, probability: 100, timeoutMs: undefined, retries: 0, fallback: undefined },
    ] },
  ],
};

test('the same request plans the same way: latency, error, calls and their keys', (t) => {
  t.deepEqual(planRequest(behaviour, 42, 'users.7'), planRequest(behaviour, 42, 'users.7'));
  const plan = planRequest(behaviour, 42, 'users.7');
  const keys = plan.steps.flatMap((s) => (s.kind === 'call' ? [s.call.key] : s.calls.map((c) => c.key)));
  t.true(keys.every((k) => /^users\.7\/[0-2]$/.test(k)), keys.join(','));
});

test('errorRate fires for its share of requests, and each retry is its own draw', (t) => {
  let fails = 0;
  let bothFail = 0;
  for (let n = 0; n < 20_000; n++) {
    const first = planRequest(behaviour, 1, `f.${n}`).fails;
    const retry = planRequest(behaviour, 1, attemptKey(`f.${n}`, 2)).fails;
    if (first) fails++;
    if (first && retry) bothFail++;
  }
  t.true(Math.abs(fails / 20_000 - 0.3) < 0.015, `${fails}`);
  t.true(Math.abs(bothFail / 20_000 - 0.09) < 0.01, `independent: ${bothFail}`);
});

test('a call with probability 50 is made by about half the requests', (t) => {
  let made = 0;
  for (let n = 0; n < 10_000; n++) {
    const plan = planRequest(behaviour, 5, `f.${n}`);
    if (plan.steps.some((s) => s.kind === 'parallel' && s.calls.some((c) => c.call.service === 'b'))) made++;
  }
  t.true(Math.abs(made - 5000) < 250, `${made}`);
});
