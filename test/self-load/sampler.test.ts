import test from 'ava';
import { loopSampler, machineSampler } from '../../src/self-load/sampler.js';

// The samples the overload watch judges: this process's event loop, and the machine's CPUs.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a loop that runs a long callback reads busy; one that waits reads calm', async (t) => {
  const sample = loopSampler();
  await sleep(20);
  sample();
  // 200 ms of work with no wait in between: all of it is the loop's busy time.
  const until = performance.now() + 200;
  while (performance.now() < until) { /* busy */ }
  const busy = sample();
  t.true(busy >= 0.9, `busy read ${busy}`);
  await sleep(300);
  const calm = sample();
  t.true(calm <= 0.5, `calm read ${calm}`);
});

test('the machine sampler reads the busy share of all CPUs since the last call', (t) => {
  const readings = [
    [{ times: { user: 100, nice: 0, sys: 0, irq: 0, idle: 900 } }, { times: { user: 0, nice: 0, sys: 0, irq: 0, idle: 1000 } }],
    // Over this step: 2,000 ms of CPU time, of which 100 + 50 + 1,000 busy.
    [{ times: { user: 200, nice: 0, sys: 50, irq: 0, idle: 1750 } }, { times: { user: 1000, nice: 0, sys: 0, irq: 0, idle: 1000 } }],
    // No time passed: nothing to say.
    [{ times: { user: 200, nice: 0, sys: 50, irq: 0, idle: 1750 } }, { times: { user: 1000, nice: 0, sys: 0, irq: 0, idle: 1000 } }],
  ];
  let i = 0;
  const sample = machineSampler(() => readings[i++]!);
  t.is(sample(), 1150 / 2000);
  t.is(sample(), undefined);
});
