import test from 'ava';
import { BusyReporter } from '../../src/self-load/reporter.js';

// A node's report of its own loop: nothing while idle, samples while busy, one more as it calms.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const spin = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* busy */ }
};

test('an idle process sends nothing and runs no timer; a busy one says so, then once that it calmed', async (t) => {
  const sent: number[] = [];
  const reporter = new BusyReporter((busy) => sent.push(busy), 0.5, 100);
  await sleep(250);
  t.deepEqual(sent, [], 'no activity, no samples');
  // Busy: activity, and the loop held longer than each interval.
  for (let i = 0; i < 4; i++) {
    reporter.active();
    spin(190);
    await sleep(5);
  }
  await sleep(150);
  t.true(sent.length >= 1 && sent.slice(0, -1).every((b) => b >= 0.5), JSON.stringify(sent));
  // Calm: the last word is below the threshold, and then nothing more comes.
  await sleep(300);
  const settled = sent.length;
  t.true(sent[settled - 1]! < 0.5, JSON.stringify(sent));
  await sleep(300);
  t.is(sent.length, settled, 'no activity: the timer stopped');
  reporter.stop();
});
