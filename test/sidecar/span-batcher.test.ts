// Spans are batched apart from their export: at most one batch a flush interval, the
// first ones after a quiet spell without waiting for the interval, and spans that the
// collector refused are kept for the next try, up to a bound.
import test from 'ava';
import { SpanBatcher, type SpanExporter } from '../../src/sidecar/telemetry.js';
import type { EncodedResourceSpans } from '../../src/telemetry/otlp.js';
import type { Span } from '../../src/telemetry/span.js';

const span = (n: number): Span => ({
  traceId: 't'.repeat(32), spanId: String(n).padStart(16, '0'), parentSpanId: undefined, name: 'GET', kind: 'server',
  startMs: 0, endMs: 1, service: 'productpage', attributes: {}, error: false,
});

/** Records when each batch arrives and what it holds; refuses while `refusing`. */
class FakeExporter implements SpanExporter {
  batches: Array<{ at: number; spans: number }> = [];
  refusing = false;
  export(groups: readonly EncodedResourceSpans[]): Promise<void> {
    if (this.refusing) return Promise.reject(new Error('refused'));
    this.batches.push({ at: performance.now(), spans: groups.reduce((n, g) => n + g.spans.length, 0) });
    return Promise.resolve();
  }
  shutdown(): void {}
}

const until = async (condition: () => boolean, ms: number) => {
  const deadline = performance.now() + ms;
  while (!condition() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
};

test('the first spans after a quiet spell go at once; in a steady flow, one batch an interval', async (t) => {
  const exporter = new FakeExporter();
  const flushMs = 400;
  const gatherMs = 25;
  const rampMs = 200;
  const batcher = new SpanBatcher(exporter, { flushMs, gatherMs, rampMs });
  const sink = batcher.sink({ 'service.name': 'productpage' }, true);
  const began = performance.now();
  sink.add(span(1));
  sink.add(span(2));
  await until(() => exporter.batches.length === 1, 5000);
  t.is(exporter.batches[0]?.spans, 2, 'the spans that came together go together');
  t.true(exporter.batches[0]!.at - began < flushMs / 2, `the first batch went ${Math.round(exporter.batches[0]!.at - began)} ms after its spans`);
  // A steady flow for five intervals: batches every gatherMs for the ramp, then the
  // waits grow to the interval and stay there.
  let n = 3;
  while (performance.now() - began < 5 * flushMs) {
    sink.add(span(n++));
    await new Promise((r) => setTimeout(r, 10));
  }
  await sink.stop();
  t.is(exporter.batches.reduce((sum, b) => sum + b.spans, 0), n - 1, 'every span went');
  const sent = exporter.batches.slice(0, -1);
  const gaps = sent.slice(1).map((b, i) => ({ at: b.at - began, gap: b.at - sent[i]!.at }));
  const shown = gaps.map((g) => Math.round(g.gap)).join(', ');
  const ramp = gaps.filter((g) => g.at <= rampMs);
  const after = gaps.filter((g) => g.at > rampMs + gatherMs).map((g) => g.gap);
  // Most of them: a timer the machine delays lengthens one gap, not the ramp.
  t.true(ramp.length >= 3 && ramp.filter((g) => g.gap < 2 * gatherMs + 20).length >= (ramp.length * 2) / 3, `the ramp's gaps stay near ${gatherMs} ms: ${shown}`);
  // Timers may fire a millisecond early, never much more.
  for (let i = 1; i < after.length; i++) t.true(after[i]! >= Math.min(flushMs, after[i - 1]!) - 5, `gaps after the ramp do not shrink: ${shown}`);
  t.true(after.at(-1)! >= flushMs - 5, `the last gap is the interval: ${shown}`);
  // The ramp's batches, the doubling waits (50 to 400 ms) and one an interval after that.
  t.true(sent.length <= rampMs / gatherMs + 1 + 4 + 5 + 2, `${sent.length} batches in five intervals: ${shown}`);
});

test("a first request's spans, ending over its cold start, all go within gatherMs of their end", async (t) => {
  // Waits that doubled from the first batch (100, 200, 400 ms) would hold the third span
  // until 700 ms; held at gatherMs through the ramp, it goes at about 420 ms.
  const exporter = new FakeExporter();
  const batcher = new SpanBatcher(exporter, { flushMs: 4000, gatherMs: 100, rampMs: 2000 });
  const sink = batcher.sink({ 'service.name': 'productpage' }, true);
  const began = performance.now();
  const endedAt: number[] = [];
  for (const [i, at] of [0, 120, 320].entries()) {
    await new Promise((r) => setTimeout(r, Math.max(0, began + at - performance.now())));
    sink.add(span(i));
    endedAt.push(performance.now());
  }
  await until(() => exporter.batches.reduce((n, b) => n + b.spans, 0) === 3, 5000);
  const last = exporter.batches.at(-1)!;
  t.true(last.at - endedAt[2]! < 100 + 150, `the last span went ${Math.round(last.at - endedAt[2]!)} ms after it ended (batches at ${exporter.batches.map((b) => Math.round(b.at - began)).join(', ')} ms)`);
  await sink.stop();
});

test('a refused batch is kept and sent at the next try; past the bound the oldest are dropped and counted', async (t) => {
  const exporter = new FakeExporter();
  const batcher = new SpanBatcher(exporter, { flushMs: 50, maxQueue: 10, gatherMs: 5 });
  exporter.refusing = true;
  for (let i = 0; i < 4; i++) batcher.add({ 'service.name': 'a' }, span(i));
  await batcher.flush();
  t.is(batcher.failures, 1);
  t.is(batcher.queued, 4, 'nothing lost');
  for (let i = 4; i < 14; i++) batcher.add({ 'service.name': 'a' }, span(i));
  t.is(batcher.queued, 10);
  t.is(batcher.dropped, 4);
  exporter.refusing = false;
  await until(() => exporter.batches.length === 1, 5000);
  t.is(exporter.batches[0]?.spans, 10, 'the retry sends what was kept, on its own');
  await batcher.stop();
  t.is(batcher.queued, 0);
});

test('a busy flow goes in batches of at most maxBatch, every span sent', async (t) => {
  const exporter = new FakeExporter();
  const batcher = new SpanBatcher(exporter, { maxBatch: 4, gatherMs: 5 });
  const began = performance.now();
  for (let i = 0; i < 10; i++) batcher.add({ 'service.name': 'a' }, span(i));
  await until(() => exporter.batches.reduce((n, b) => n + b.spans, 0) === 10, 5000);
  t.true(exporter.batches.every((b) => b.spans <= 4), `batches of ${exporter.batches.map((b) => b.spans).join(', ')}`);
  t.is(exporter.batches.reduce((n, b) => n + b.spans, 0), 10);
  t.true(exporter.batches.at(-1)!.at - began < 500, 'full batches do not wait for the interval');
  await batcher.stop();
});

test('spans that come while a batch is on its way wait for a full batch or the timer, not an export each', async (t) => {
  // An export that takes a few milliseconds, as a real HTTP request to the collector does.
  const exporter = new FakeExporter();
  const send = exporter.export.bind(exporter);
  exporter.export = async (groups) => {
    await send(groups);
    await new Promise((r) => setTimeout(r, 4));
  };
  const maxBatch = 64;
  const batcher = new SpanBatcher(exporter, { maxBatch, gatherMs: 20, rampMs: 0 });
  // About two spans a millisecond for 600 ms: a busy sidecar's steady flow.
  let n = 0;
  const began = performance.now();
  while (performance.now() - began < 600 && n < 2000) {
    batcher.add({ 'service.name': 'a' }, span(n++));
    batcher.add({ 'service.name': 'a' }, span(n++));
    await new Promise((r) => setTimeout(r, 1));
  }
  await batcher.stop();
  t.is(exporter.batches.reduce((sum, b) => sum + b.spans, 0), n, 'every span went');
  // Full batches, plus the timer's sends while its wait doubles from 20 ms to the
  // interval (at most six in 600 ms, however slowly the spans came) and what stop() sends.
  // No ramp here (rampMs 0): its timer sends are the first test's.
  const bound = Math.ceil(n / maxBatch) + 7;
  t.true(exporter.batches.length <= bound, `${exporter.batches.length} exports (at most ${bound}) of ${exporter.batches.map((b) => b.spans).join(', ')} spans`);
});
