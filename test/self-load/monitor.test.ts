import test from 'ava';
import { MAIN_PROCESS, SelfLoadMonitor } from '../../src/self-load/monitor.js';

// Episodes on the scenario's clock: a check's window that met one is marked.

test('an episode spans from the first busy second to the first calm one, on the scenario clock', (t) => {
  let second = 0;
  const said: string[] = [];
  // The main process's loop is busy in seconds 3 to 6 of the scenario; the machine never.
  const monitor = new SelfLoadMonitor({ overloaded: (m) => said.push(m), recovered: (m) => said.push(m) }, () => second * 1000, {
    cpus: 4,
    mainSampler: () => () => (second >= 3 && second <= 6 ? 0.99 : 0.1),
    machineSampler: () => () => 0.5,
  });
  monitor.start(60_000);
  t.teardown(() => monitor.stop());
  for (second = 1; second <= 10; second++) monitor.tick(second * 1000);
  t.is(said.length, 2, said.join('\n'));
  t.true(said[0]!.startsWith(`mesh-sim cannot keep up: ${MAIN_PROCESS} was busy 99% of the last 2 s`), said[0]);
  t.is(said[1], 'mesh-sim keeps up again, after 4 s of falling behind');
  t.false(monitor.overlapped(0, 2000), 'before it began');
  t.true(monitor.overlapped(2000, 3500));
  t.true(monitor.overlapped(5000, 9000));
  t.false(monitor.overlapped(7500, 10_000), 'after it ended');
  t.true(monitor.overlapped(0, Infinity));
  t.deepEqual(monitor.totals, { seconds: 4, worst: { source: MAIN_PROCESS, busy: 0.99, kind: 'loop' } });
});

test('a node\'s reports count as the main process\'s own samples do', (t) => {
  const said: string[] = [];
  const monitor = new SelfLoadMonitor({ overloaded: (m) => said.push(m), recovered: (m) => said.push(m) }, () => 0, {
    mainSampler: () => () => 0.2,
    machineSampler: () => () => undefined,
  });
  monitor.report('node-1', 0.99);
  monitor.start(60_000);
  t.teardown(() => monitor.stop());
  // Kept, that report would still be fresh: two ticks would make an episode of it.
  monitor.tick(performance.now());
  monitor.tick(performance.now() + 1);
  t.deepEqual(said, [], 'a report before the traffic started (start-up) is not judged');
  // Reports are stamped with performance.now(): tick on the same clock.
  monitor.report('node-1', 0.95);
  monitor.tick(performance.now());
  monitor.report('node-1', 0.97);
  monitor.tick(performance.now() + 1);
  t.is(said.length, 1);
  t.regex(said[0]!, /node-1 was busy 97%.*--nodes/);
});

test('traffic that stops during an episode ends it: the UI drops its line, the totals keep it', (t) => {
  let second = 0;
  const said: string[] = [];
  const monitor = new SelfLoadMonitor({ overloaded: (m) => said.push(m), recovered: (m) => said.push(m) }, () => second * 1000, {
    mainSampler: () => () => 0.99,
    machineSampler: () => () => undefined,
  });
  monitor.start(60_000);
  for (second = 1; second <= 3; second++) monitor.tick(second * 1000);
  second = 4;
  monitor.stop();
  t.is(said.length, 2, said.join('\n'));
  t.is(said[1], 'the traffic stopped; mesh-sim had fallen behind for 3 s');
  t.true(monitor.overlapped(3000, 3500));
  t.false(monitor.overlapped(4500, 6000), 'the episode ended with the traffic');
  t.is(monitor.totals.seconds, 3);
  monitor.stop();
  t.is(said.length, 2, 'stopping twice says nothing more');
});
