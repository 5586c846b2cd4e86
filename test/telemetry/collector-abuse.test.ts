// The collector and control plane take requests only from what the run started, and
// no request, however large, deep or wide, can stop them or grow them without bound.
import test from 'ava';
import { gzipSync } from 'node:zlib';
import { Hub } from '../../src/mesh/hub.js';
import { authorization } from '../../src/control/http.js';
import { ControlPlane } from '../../src/control/plane.js';
import { emptyMeshConfig } from '../../src/policy/config.js';
import { encodeSpans } from '../../src/telemetry/otlp.js';
import { TraceStore, analyseTrace, MAX_SPANS_PER_TRACE } from '../../src/telemetry/traces.js';
import { MAX_EXPORT_BYTES, MAX_SPANS_PER_EXPORT, inflateBounded, InflatedTooLarge } from '../../src/telemetry/collector.js';
import type { Span } from '../../src/telemetry/span.js';

const TRACE = 'a'.repeat(32);
const hex = (n: number) => n.toString(16).padStart(16, '0');
const span = (id: number, parent: number | undefined): Span => ({
  traceId: TRACE, spanId: hex(id), parentSpanId: parent === undefined ? undefined : hex(parent), name: 'x', kind: 'server',
  startMs: 1_700_000_000_000 + id, endMs: 1_700_000_000_001 + id, service: 'svc', attributes: {}, error: false,
});

async function hub(): Promise<{ hub: Hub; url: string; received: Span[] }> {
  const received: Span[] = [];
  const plane = new ControlPlane({ services: [], config: emptyMeshConfig() }, 1);
  const h = new Hub(plane, () => undefined, (spans) => received.push(...spans));
  const port = await h.listen(['127.0.0.1']);
  return { hub: h, url: `http://127.0.0.1:${port}`, received };
}

test('without the run\'s secret, the collector and the control plane answer 401 and take nothing', async (t) => {
  const { hub: h, url, received } = await hub();
  t.teardown(() => h.close());
  const body = encodeSpans({ 'service.name': 'forged' }, [span(1, undefined)], { name: 'x', version: '1' });
  const attempts: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong' }, { authorization: authorization(h.secret).slice(0, -1) }];
  for (const headers of attempts) {
    const post = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    t.is(post.status, 401);
    t.is((await fetch(`${url}/v1/sidecar/any`, { headers })).status, 401, 'nor can the config be read');
  }
  t.is(received.length, 0);
  const ok = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: authorization(h.secret) }, body });
  t.is(ok.status, 200);
  t.is(received.length, 1);
});

test(`an export of more than ${MAX_SPANS_PER_EXPORT} spans is cut there, and said so`, async (t) => {
  const { hub: h, url, received } = await hub();
  t.teardown(() => h.close());
  const spans = Array.from({ length: MAX_SPANS_PER_EXPORT + 500 }, (_, i) => span(i + 1, i === 0 ? undefined : 1));
  const res = await fetch(`${url}/v1/traces`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: authorization(h.secret) },
    body: encodeSpans({ 'service.name': 's' }, spans, { name: 'x', version: '1' }),
  });
  t.is(res.status, 200);
  t.like(await res.json(), { partialSuccess: { rejectedSpans: 500 } });
  t.is(received.length, MAX_SPANS_PER_EXPORT);
});

test('a gzip bomb is refused at the limit, not inflated', async (t) => {
  const { hub: h, url, received } = await hub();
  t.teardown(() => h.close());
  const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, ' '));
  t.true(bomb.length < MAX_EXPORT_BYTES);
  const res = await fetch(`${url}/v1/traces`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: authorization(h.secret) }, body: bomb,
  });
  t.is(res.status, 413);
  t.is(received.length, 0);
});

test('inflation stops one chunk past the limit, however large the bomb', async (t) => {
  const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, ' '));
  const error = await t.throwsAsync(inflateBounded(bomb, 1024 * 1024), { instanceOf: InflatedTooLarge });
  t.true(error!.inflated > 1024 * 1024);
  t.true(error!.inflated <= 1024 * 1024 + 64 * 1024, `${error!.inflated} bytes inflated`);
  const small = Buffer.from('{"resourceSpans":[]}');
  t.deepEqual(await inflateBounded(gzipSync(small), small.length), small);
  await t.throwsAsync(inflateBounded(Buffer.from('not gzip'), 1024));
});

test('a chain of 10 000 spans is measured without recursion; 38 000 siblings are held to the bound', (t) => {
  const chain = Array.from({ length: 10_000 }, (_, i) => ({ ...span(i + 1, i === 0 ? undefined : i), kind: 'server' as const }));
  const shape = analyseTrace(chain);
  t.is(shape.depth, 10_000);
  t.true(shape.complete);
  const store = new TraceStore();
  for (let i = 0; i < 38_000; i++) store.add(span(i + 2, 1), 0);
  store.tick(10_000, true);
  t.is(store.droppedSpans, 38_000 - MAX_SPANS_PER_TRACE);
  t.is(store.recent()[0]!.spanCount, MAX_SPANS_PER_TRACE);
});
