// Every answer a sidecar makes itself comes from one table, with Envoy's status, flag,
// response code details and body.
import test from 'ava';
import { rescue } from '../../src/sidecar/local-reply.js';
import { formatFlags } from '../../src/policy/flags.js';

test("each failure is answered as Envoy answers it", (t) => {
  t.like(rescue({ kind: 'no-route' }), { status: 404, flag: 'NR', details: 'route_not_found', body: '' });
  t.like(rescue({ kind: 'no-cluster' }), { status: 503, flag: 'NC', details: 'cluster_not_found' });
  t.like(rescue({ kind: 'no-healthy-upstream' }), { status: 503, flag: 'UH', details: 'no_healthy_upstream', body: 'no healthy upstream' });
  t.like(rescue({ kind: 'overflow' }), {
    status: 503, flag: 'UO', details: 'upstream_reset_before_response_started{overflow}',
    body: 'upstream connect error or disconnect/reset before headers. reset reason: overflow', headers: { 'x-envoy-overloaded': 'true' },
  });
  t.like(rescue({ kind: 'fault-abort', status: 418 }), { status: 418, flag: 'FI', details: 'fault_filter_abort', body: 'fault filter abort' });
  t.like(rescue({ kind: 'timeout' }), { status: 504, flag: 'UT', details: 'response_timeout', body: 'upstream request timeout' });
  t.like(rescue({ kind: 'per-try-timeout' }), { status: 504, flag: 'UT', details: 'upstream_per_try_timeout' });
  t.like(rescue({ kind: 'connect-failure' }), { status: 503, flag: 'UF', details: 'upstream_reset_before_response_started{connection_failure}' });
  t.like(rescue({ kind: 'reset' }, true), {
    status: 503, flag: 'UC', body: 'upstream connect error or disconnect/reset before headers. retried and the latest reset reason: connection termination',
  });
  t.like(rescue({ kind: 'direct-response', status: 200, body: 'hi' }), { status: 200, flag: undefined, body: 'hi' });
  t.like(rescue({ kind: 'redirect', status: 301, location: 'http://x/y' }), { status: 301, headers: { location: 'http://x/y' } });
});

test("flags print in Envoy's order, whatever order they were set in", (t) => {
  t.is(formatFlags([]), '-');
  t.is(formatFlags(['URX', 'UT']), 'UT,URX');
  t.is(formatFlags(['UT', 'DI']), 'UT,DI');
  t.is(formatFlags(['URX', 'UF', 'UF']), 'UF,URX');
});

test('past the series bound, requests still count, in one series labelled unknown', async (t) => {
  const { Registry } = await import('prom-client');
  const { RequestMetrics, MAX_SERIES } = await import('../../src/sidecar/request-metrics.js');
  const { servicePeer, PLAINTEXT } = await import('../../src/sidecar/identity.js');
  const metrics = new RequestMetrics(new Registry());
  for (let i = 0; i < MAX_SERIES + 100; i++) {
    metrics.record({ reporter: 'source', source: servicePeer('a', 'v1'), destination: servicePeer(`b${i}`, 'v1'), destinationService: `b${i}`, status: 200, flags: '-', security: PLAINTEXT }, 1, 1, 1);
  }
  t.is(metrics.overflowed, 100);
});
