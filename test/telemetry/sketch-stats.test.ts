import test from 'ava';
import { Sketch } from '../../src/telemetry/sketch.js';
import { FlowStats, RequestStats } from '../../src/telemetry/stats.js';
import { ATTR, type Span } from '../../src/telemetry/span.js';
import { judge } from '../../src/telemetry/judge.js';
import { parseCheck } from '../../src/scenario/check-expr.js';

test('sketch percentiles are within 1 % of the exact ones', (t) => {
  const sketch = new Sketch();
  const values = Array.from({ length: 10_000 }, (_, i) => 0.5 + ((i * 7919) % 10_000) / 10);
  for (const v of values) sketch.add(v);
  const sorted = [...values].sort((a, b) => a - b);
  for (const q of [0.5, 0.9, 0.99]) {
    const exact = sorted[Math.floor(q * (sorted.length - 1))]!;
    const estimate = sketch.quantile(q);
    t.true(Math.abs(estimate - exact) / exact <= 0.011, `q${q}: ${estimate} vs ${exact}`);
  }
  t.true(Number.isNaN(new Sketch().quantile(0.5)), 'an empty sketch has no percentile');
});

test('merged sketches equal one sketch of all values', (t) => {
  const a = new Sketch();
  const b = new Sketch();
  const all = new Sketch();
  for (let i = 1; i <= 1000; i++) {
    (i % 2 ? a : b).add(i);
    all.add(i);
  }
  a.merge(b);
  t.is(a.count, all.count);
  t.is(a.quantile(0.99), all.quantile(0.99));
});

const server = (service: string, version: string, status: number, endMs: number, durationMs = 10): Span => ({
  traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), parentSpanId: undefined, name: 'x', kind: 'server',
  startMs: endMs - durationMs, endMs, service, attributes: { [ATTR.status]: status, [ATTR.canonicalRevision]: version }, error: status >= 500,
});

test('statistics count by service and version, in windows and over the run', (t) => {
  const stats = new RequestStats();
  const base = 1_700_000_000_000;
  for (let s = 0; s < 10; s++) {
    for (let i = 0; i < 10; i++) stats.add(server('reviews', s < 5 ? 'v1' : 'v2', i === 0 ? 503 : 200, base + s * 1000 + i * 50, 5 + i));
  }
  const run = stats.service('reviews', undefined, undefined, 10);
  t.is(run.requests, 100);
  t.is(run.errors, 10);
  t.is(run.rps, 10);
  t.is(run.errorRate, 0.1);
  t.is(stats.service('reviews', 'v2', undefined, 10).requests, 50);
  const window = stats.service('reviews', undefined, { fromMs: base + 2000, toMs: base + 4000 });
  t.is(window.requests, 20, 'two seconds of ten requests');
  t.is(window.rps, 10);
  t.is(stats.service('nobody', undefined, undefined, 10).requests, 0);
});

test('checks are judged on the window or the run, and say when there is nothing to judge', (t) => {
  const stats = new RequestStats();
  const flowStats = new FlowStats();
  const base = 1_700_000_000_000;
  for (let i = 0; i < 100; i++) stats.add(server('api', 'v1', i < 3 ? 500 : 200, base + i * 10, i));
  const measured = { stats, flowStats };
  t.like(judge(parseCheck('error_rate(api) < 0.05'), measured, undefined, 1), { ok: true, value: 0.03 });
  t.like(judge(parseCheck('requests(api) > 100'), measured, undefined, 1), { ok: false, value: 100 });
  t.like(judge(parseCheck('p99(api) < 2s'), measured, undefined, 1), { ok: true });
  const none = judge(parseCheck('p99(db) < 2s'), measured, undefined, 1);
  t.false(none.ok);
  t.is(none.value, null);
  t.regex(none.note!, /db answered no requests/);
});

test("a check may name a flow: its client's view, not a service's", (t) => {
  const stats = new RequestStats();
  const flowStats = new FlowStats();
  const now = 1_700_000_000_000;
  for (let i = 0; i < 10; i++) flowStats.add('jason', now, 0, i === 0 ? 503 : 200, 6000 + i);
  const measured = { stats, flowStats };
  t.like(judge(parseCheck('p50(flow:jason) > 5s'), measured, undefined, 10), { ok: true });
  t.like(judge(parseCheck('error_rate(flow:jason) < 0.05'), measured, undefined, 10), { ok: false, value: 0.1 });
  t.like(judge(parseCheck('requests(flow:jason) >= 10'), measured, undefined, 10), { ok: true, value: 10 });
  t.regex(judge(parseCheck('p50(flow:nobody) < 1s'), measured, undefined, 10).note!, /flow nobody answered no requests/);
});

test('a window of segments counts exactly the requests that started in it', (t) => {
  const stats = new RequestStats();
  const now = 1_700_000_000_000;
  for (let i = 0; i < 30; i++) stats.add(server('api', 'v1', i % 10 === 0 ? 500 : 200, now + i * 10), now, Math.floor(i / 10));
  t.is(stats.service('api', undefined, { segments: [1], seconds: 2 }).requests, 10);
  t.is(stats.service('api', undefined, { segments: [1, 2], seconds: 2 }).rps, 10);
  t.is(stats.service('api', undefined, { segments: [0, 1, 2], seconds: 3 }).errors, 3);
  t.is(stats.service('api', undefined, { segments: [7], seconds: 3 }).requests, 0);
});

test('a span with a wild timestamp does not sweep the windows away', (t) => {
  const stats = new RequestStats(900);
  const now = 1_700_000_000_000;
  for (let i = 0; i < 10; i++) stats.add(server('db', 'v1', 200, now + i * 100), now + i * 100);
  stats.add(server('db', 'v1', 200, now * 10), now + 1000);
  t.is(stats.service('db', undefined, { fromMs: now, toMs: now + 1000 }).requests, 10);
  t.is(stats.service('db', undefined, undefined, 1).requests, 11, 'it still counts in the totals');
});

test('slots older than the retention are evicted as time passes', (t) => {
  const stats = new RequestStats(60);
  const now = 1_700_000_000_000;
  stats.add(server('db', 'v1', 200, now), now);
  stats.add(server('db', 'v1', 200, now + 120_000), now + 120_000);
  t.is(stats.service('db', undefined, { fromMs: now - 1000, toMs: now + 1000 }).requests, 0, 'evicted after 60 s');
  t.is(stats.service('db', undefined, undefined, 1).requests, 2);
});
