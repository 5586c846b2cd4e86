import test from 'ava';
import { describeOverload, OverloadWatch, type OverloadCause } from '../../src/self-load/watch.js';
import { measuredText } from '../../src/telemetry/judge.js';

// mesh-sim's verdict on itself: two seconds over a limit start an episode, two calm
// seconds end it, a process that stops reporting is calm.

function watched() {
  const events: string[] = [];
  const causes: OverloadCause[] = [];
  const watch = new OverloadWatch({
    overloaded: (cause) => {
      causes.push(cause);
      events.push(`overloaded ${cause.source}`);
    },
    recovered: (seconds) => events.push(`recovered after ${seconds}`),
  });
  return { watch, events, causes };
}

test('a loop busy for two seconds in a row is an episode; one busy second is not', (t) => {
  const { watch, events } = watched();
  watch.report('node-0', 0.95, 1000);
  watch.tick(1000, 0.5);
  watch.report('node-0', 0.3, 2000);
  watch.tick(2000, 0.5);
  t.deepEqual(events, [], 'a single busy second passes');
  watch.report('node-0', 0.92, 3000);
  watch.tick(3000, 0.5);
  watch.report('node-0', 0.97, 4000);
  watch.tick(4000, 0.5);
  t.deepEqual(events, ['overloaded node-0']);
  t.is(watch.totals.seconds, 2, 'the episode under way counts, from the streak that started it');
});

test('two calm seconds end the episode, and the summary counts its length', (t) => {
  const { watch, events } = watched();
  for (let s = 1; s <= 6; s++) {
    watch.report('node-1', s <= 4 ? 0.99 : 0.2, s * 1000);
    watch.tick(s * 1000, undefined);
  }
  // Busy in the seconds to 1-4 s: the episode starts at 2 s, counting the two seconds
  // that started it; calm at 5 and 6 s: it ends at 6 s, four seconds busy.
  t.deepEqual(events, ['overloaded node-1', 'recovered after 4']);
  t.is(watch.totals.seconds, 4);
  t.deepEqual(watch.totals.worst, { source: 'node-1', busy: 0.99, kind: 'loop' });
});

test('a node that stops reporting is calm (nodes say nothing while calm)', (t) => {
  const { watch, events } = watched();
  watch.report('node-0', 0.99, 1000);
  watch.tick(1000, undefined);
  watch.tick(2000, undefined);
  t.deepEqual(events, ['overloaded node-0'], 'its last report still stands within 2.5 s');
  watch.tick(4000, undefined);
  watch.tick(5000, undefined);
  // Busy for the two seconds its report stood, calm after.
  t.deepEqual(events, ['overloaded node-0', 'recovered after 2']);
  t.is(watch.totals.seconds, 2);
});

test('the machine busy on its own is a cause when no loop is over its limit; the busiest loop comes first', (t) => {
  const { watch, causes } = watched();
  watch.tick(1000, 0.97);
  watch.tick(2000, 0.99);
  t.deepEqual(causes, [{ source: 'machine', busy: 0.99, kind: 'machine' }]);
  const second = watched();
  for (const at of [1000, 2000]) {
    second.watch.report('node-0', 0.91, at);
    second.watch.report('node-1', 0.96, at);
    second.watch.tick(at, 0.99);
  }
  t.deepEqual(second.causes, [{ source: 'node-1', busy: 0.96, kind: 'loop' }]);
});

test('a calm run has no episode and nothing to report', (t) => {
  const { watch, events } = watched();
  for (let s = 1; s <= 10; s++) {
    watch.report('node-0', 0.6, s * 1000);
    watch.tick(s * 1000, 0.7);
  }
  t.deepEqual(events, []);
  t.deepEqual(watch.totals, { seconds: 0, worst: undefined });
});

test('the warning says what was busy, what it means and what to do', (t) => {
  const node = describeOverload({ source: 'node-1', busy: 0.974, kind: 'loop' }, 2);
  t.regex(node, /node-1 was busy 97% of the last 2 s/);
  t.regex(node, /latencies now include its own queueing/);
  t.regex(node, /--nodes/);
  const machine = describeOverload({ source: 'machine', busy: 0.99, kind: 'machine' }, 8);
  t.regex(machine, /this machine's 8 CPUs were 99% busy over the last 2 s/);
  t.notRegex(machine, /--nodes/);
});

test('a check judged while mesh-sim fell behind says so wherever it is reported', (t) => {
  const behind = measuredText({ expr: 'p99(a) < 100ms', ok: false, value: 487, overloaded: true });
  t.is(behind, 'measured 487, while mesh-sim fell behind its traffic');
  t.is(measuredText({ expr: 'p99(a) < 100ms', ok: true, value: 12 }), 'measured 12');
  t.is(measuredText({ expr: 'p99(x) < 1s', ok: false, value: null }), 'measured no value');
});

test('ending the watch ends an episode under way and forgets the reports', (t) => {
  const { watch, events } = watched();
  t.is(watch.end(), undefined, 'nothing under way');
  for (const at of [1000, 2000, 3000]) {
    watch.report('node-0', 0.99, at);
    watch.tick(at, undefined);
  }
  t.is(watch.end(), 3);
  t.deepEqual(events, ['overloaded node-0'], 'the caller says why it ended');
  t.is(watch.totals.seconds, 3);
  // A fresh start: the old report is gone, and one busy second is not an episode.
  watch.tick(10_000, undefined);
  watch.report('node-0', 0.99, 11_000);
  watch.tick(11_000, undefined);
  t.deepEqual(events, ['overloaded node-0']);
});
