// The fault filter on its own: a delay before the call leaves, an abort answered by the
// caller's own sidecar, each for its share of requests drawn from the seed.
import test from 'ava';
import { outboundHarness } from '../helpers/outbound.js';
import { FAULT_TYPES } from '../../src/sidecar/filters/fault.js';
import { ATTR } from '../../src/telemetry/span.js';

const scenario = (fault: string) => `
name: t
services:
  b: {port: 9080}
istio:
  - apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: b}
    spec:
      hosts: [b]
      http: [{fault: ${fault}, route: [{destination: {host: b}}]}]
`;

test('both of Istio\'s fault kinds are registered, delay before abort as Envoy applies them', (t) => {
  t.deepEqual(FAULT_TYPES.map((f) => f.name), ['delay', 'abort']);
});

test('a delay holds the request before it leaves, flags it DI and names its rule', async (t) => {
  const h = await outboundHarness(scenario('{delay: {percentage: {value: 100}, fixedDelay: 150ms}}'));
  try {
    const answer = await h.call('b');
    t.is(answer.status, 200);
    t.true(answer.ms >= 145, `${answer.ms} ms`);
    const [entry] = h.log();
    t.is(entry!.response_flags, 'DI');
    const span = h.spans.find((s) => s.attributes[ATTR.final] === true)!;
    t.is(span.attributes[ATTR.ruleName], 'VirtualService b http[0].fault.delay');
    t.regex(String(span.attributes[ATTR.rule]), /^test\.yaml:\d+$/);
    t.true(span.endMs - span.startMs >= 145, "the first attempt's span covers the delay");
  } finally {
    await h.close();
  }
});

test('an abort is answered by the caller\'s sidecar, flagged FI, and never reaches the upstream', async (t) => {
  const h = await outboundHarness(scenario('{abort: {percentage: {value: 100}, httpStatus: 418}}'));
  try {
    const answer = await h.call('b');
    t.is(answer.status, 418);
    t.is(answer.body, 'fault filter abort\n');
    t.like(h.log()[0], { response_code: 418, response_flags: 'FI', response_code_details: 'fault_filter_abort', upstream_host: null });
    t.is(h.received.size, 0, 'the upstream saw nothing');
  } finally {
    await h.close();
  }
});

test('a percentage picks its share of requests, the same ones for the same seed', async (t) => {
  const h = await outboundHarness(scenario('{abort: {percentage: {value: 30}, httpStatus: 503}}'), {}, 7);
  const again = await outboundHarness(scenario('{abort: {percentage: {value: 30}, httpStatus: 503}}'), {}, 7);
  try {
    const first = await Promise.all(Array.from({ length: 200 }, (_, i) => h.call('b', '/', {}, `f.${i}`)));
    const second = await Promise.all(Array.from({ length: 200 }, (_, i) => again.call('b', '/', {}, `f.${i}`)));
    const aborted = first.filter((a) => a.status === 503).length;
    t.true(aborted > 40 && aborted < 80, `${aborted} of 200`);
    t.deepEqual(first.map((a) => a.status), second.map((a) => a.status));
  } finally {
    await h.close();
    await again.close();
  }
});
