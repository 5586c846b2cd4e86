// The workload's own work time against a fake monotonic clock and fake timers: counted
// from arrival, cut short by the timers' recent lateness (bounded), never negative.
import test from 'ava';
import { WorkTimer, type TimerHost } from '../../src/workload/work-timer.js';

/** Timers that fire `late` ms after the time asked, on a clock the test moves. */
function fakeTimers(late: number): TimerHost & { asked: number[]; run(): Promise<void>; clock: number } {
  const pending: Array<{ at: number; fn: () => void }> = [];
  const host = {
    clock: 0,
    asked: [] as number[],
    now: () => host.clock,
    schedule: (fn: () => void, ms: number) => {
      host.asked.push(ms);
      pending.push({ at: host.clock + ms + late, fn });
    },
    async run() {
      while (pending.length > 0) {
        pending.sort((a, b) => a.at - b.at);
        const next = pending.shift()!;
        host.clock = Math.max(host.clock, next.at);
        next.fn();
        await Promise.resolve();
      }
    },
  };
  return host;
}

test('a wait is counted from arrival: time already spent is not waited again', async (t) => {
  const host = fakeTimers(0);
  const timer = new WorkTimer(host);
  host.clock = 100;
  const arrived = 97;
  const done = timer.until(arrived + 10);
  await host.run();
  await done;
  t.deepEqual(host.asked, [7], '3 ms had passed since arrival');
  t.is(host.clock, 107);
});

test('timers that fire late are asked earlier, by their typical lateness, so the work ends on time', async (t) => {
  const host = fakeTimers(1.2);
  const timer = new WorkTimer(host);
  const ends: number[] = [];
  for (let i = 0; i < 60; i++) {
    const start = host.clock;
    const done = timer.until(start + 10);
    await host.run();
    await done;
    ends.push(host.clock - start);
  }
  t.is(ends[0], 11.2, 'the first wait is as late as the timer');
  const last = ends.slice(-10);
  t.true(last.every((d) => Math.abs(d - 10) < 0.1), `after a while each 10 ms wait takes ${last.map((d) => d.toFixed(2)).join(', ')}`);
  t.true(Math.abs(timer.lateness - 1.2) < 0.06);
});

test('a long tail of late timers moves the correction to the typical lateness, not the mean', async (t) => {
  let n = 0;
  const host = fakeTimers(0);
  const schedule = host.schedule;
  // Nine in ten timers 0.5 ms late, one in ten 20 ms late: the mean is 2.45 ms, the median 0.5.
  host.schedule = (fn, ms) => schedule(() => fn(), ms + (n++ % 10 === 9 ? 20 : 0.5));
  const timer = new WorkTimer(host);
  for (let i = 0; i < 200; i++) {
    const done = timer.until(host.clock + 10);
    await host.run();
    await done;
  }
  t.true(Math.abs(timer.lateness - 0.5) < 0.2, `${timer.lateness.toFixed(2)} ms`);
});

test('the correction is bounded: lateness from load is not hidden, and a deadline already past resolves at once', async (t) => {
  const host = fakeTimers(30);
  const timer = new WorkTimer(host);
  for (let i = 0; i < 40; i++) {
    const done = timer.until(host.clock + 10);
    await host.run();
    await done;
  }
  const before = host.asked.length;
  const start = host.clock;
  const done = timer.until(start + 10);
  await host.run();
  await done;
  t.is(host.asked[before], 8, 'cut short by at most 2 ms');
  host.asked.length = 0;
  await timer.until(host.clock - 5);
  t.deepEqual(host.asked, [], 'no timer for a deadline that has passed');
  // However late timers run, a 1 ms service still waits: at least the millisecond a timer takes.
  const short = timer.until(host.clock + 1);
  await host.run();
  await short;
  t.deepEqual(host.asked, [1]);
});
