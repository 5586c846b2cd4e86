import test from 'ava';
import { backoffMs, retryDecision as isRetriable } from '../../src/policy/retry.js';
import { ConnectionPool } from '../../src/policy/connection-pool.js';
import { OutlierDetector, ejectableHosts } from '../../src/policy/outlier.js';
import { DEFAULT_RETRY_ON, defaultRetryPolicy, type RetryPolicy } from '../../src/policy/config.js';

const policy = (retryOn: RetryPolicy['retryOn'], statusCodes: number[] = []): RetryPolicy => ({ ...defaultRetryPolicy(), retryOn, statusCodes });

test("Istio's default retry policy retries connection failures, not an app's 503", (t) => {
  const p = policy([...DEFAULT_RETRY_ON]);
  t.true(isRetriable({ kind: 'connect-failure' }, p));
  t.false(isRetriable({ kind: 'response', status: 503 }, p));
  t.false(isRetriable({ kind: 'reset' }, p));
  t.false(isRetriable({ kind: 'per-try-timeout' }, p));
});

test('retryOn conditions mean what Envoy says they mean', (t) => {
  const fivexx = policy(['5xx']);
  for (const status of [500, 502, 503, 504]) t.true(isRetriable({ kind: 'response', status }, fivexx));
  t.false(isRetriable({ kind: 'response', status: 404 }, fivexx));
  t.true(isRetriable({ kind: 'per-try-timeout' }, fivexx), '5xx covers timeouts');
  t.true(isRetriable({ kind: 'reset' }, fivexx), '5xx covers resets');
  t.true(isRetriable({ kind: 'connect-failure' }, fivexx), '5xx covers connect failures');
  const gateway = policy(['gateway-error']);
  t.false(isRetriable({ kind: 'response', status: 500 }, gateway));
  t.true(isRetriable({ kind: 'response', status: 503 }, gateway));
  t.true(isRetriable({ kind: 'per-try-timeout' }, gateway));
  t.true(isRetriable({ kind: 'response', status: 409 }, policy(['retriable-4xx'])));
  t.false(isRetriable({ kind: 'response', status: 429 }, policy(['retriable-4xx'])));
  t.true(isRetriable({ kind: 'response', status: 429 }, policy(['retriable-status-codes'], [429])));
  t.true(isRetriable({ kind: 'reset' }, policy(['reset'])));
  t.true(isRetriable({ kind: 'reset' }, gateway), 'gateway-error covers resets too');
  t.false(isRetriable({ kind: 'response', status: 503, overloaded: true }, fivexx), "an answer from a peer's circuit breaker (x-envoy-overloaded) is never retried");
});

test("backoff is Envoy's: full jitter under 25 ms doubling, capped at 250 ms", (t) => {
  t.is(backoffMs(1, 0.999), 24);
  t.is(backoffMs(2, 0.999), 49);
  t.is(backoffMs(10, 0.999), 249);
  t.is(backoffMs(3, 0), 0);
});

test('the connection pool admits maxConnections, queues maxPending, overflows the rest', async (t) => {
  const pool = new ConnectionPool(2, 1);
  t.is(pool.acquire().admission, 'now');
  t.is(pool.acquire().admission, 'now');
  const queued = pool.acquire();
  t.is(queued.admission, 'queued');
  t.is(pool.acquire().admission, 'overflow', 'the queue is full: overflow (UO)');
  let granted = false;
  void queued.granted.then(() => (granted = true));
  pool.release();
  await Promise.resolve();
  t.true(granted, 'a released connection goes to the waiter');
  t.is(pool.inFlight, 2);
  pool.release();
  pool.release();
  t.is(pool.inFlight, 0);
});

test('a waiter that gives up leaves the queue', (t) => {
  const pool = new ConnectionPool(1, 1);
  pool.acquire();
  const waiting = pool.acquire();
  waiting.cancel();
  t.is(pool.pending, 0);
  t.is(pool.acquire().admission, 'queued');
});

const od = { consecutive5xxErrors: 3, consecutiveGatewayErrors: 0, intervalMs: 1000, baseEjectionTimeMs: 10_000, maxEjectionPercent: 50, minHealthPercent: 0, label: 'DestinationRule b', where: 'f:1' };

test('a host failing consecutive5xxErrors times in a row is ejected; a success resets the count', (t) => {
  const d = new OutlierDetector(od, 0);
  d.setHosts(['a', 'b', 'c']);
  d.record('a', 500, 1);
  d.record('a', 500, 2);
  d.record('a', 200, 3);
  d.record('a', 500, 4);
  d.record('a', 500, 5);
  t.false(d.isEjected('a'), 'the success broke the run');
  const event = d.record('a', 500, 6);
  t.like(event, { type: 'eject', host: 'a', forMs: 10_000, ejections: 1 });
  t.true(d.isEjected('a'));
});

test("ejection time grows with each ejection (Envoy's multiplier) and hosts return at the interval sweep", (t) => {
  const d = new OutlierDetector(od, 0);
  d.setHosts(['a', 'b', 'c']);
  for (let i = 0; i < 3; i++) d.record('a', 500, 0);
  t.deepEqual(d.sweep(9_000), [], 'still ejected before 10 s');
  t.deepEqual(d.sweep(10_000), [{ type: 'uneject', host: 'a' }]);
  for (let i = 0; i < 3; i++) d.record('a', 500, 10_100);
  t.true(d.isEjected('a'));
  t.deepEqual(d.sweep(29_000), [], 'the second ejection lasts 20 s');
  t.deepEqual(d.sweep(31_000), [{ type: 'uneject', host: 'a' }]);
});

test('a healthy interval forgives one past ejection', (t) => {
  const d = new OutlierDetector(od, 0);
  d.setHosts(['a', 'b', 'c']);
  for (let i = 0; i < 3; i++) d.record('a', 500, 0);
  d.sweep(10_000);
  d.sweep(12_000);
  for (let i = 0; i < 3; i++) d.record('a', 500, 12_000);
  t.like(d.record('a', 500, 12_000) ?? { type: 'none' }, { type: 'none' });
  t.false(d.sweep(21_999).some((e) => e.host === 'a'), 'ejected again for 10 s, not 20');
  t.true(d.sweep(22_000).some((e) => e.host === 'a'));
});

test('maxEjectionPercent counts the host being ejected, as Envoy does', (t) => {
  const d = new OutlierDetector(od, 0);
  d.setHosts(['a', 'b', 'c']);
  for (let i = 0; i < 3; i++) d.record('a', 500, 0);
  t.true(d.isEjected('a'), '1 of 3 is 33 %, within 50 %');
  for (let i = 0; i < 2; i++) d.record('b', 500, 0);
  t.like(d.record('b', 500, 0), { type: 'not-ejected', host: 'b' }, '2 of 3 would be 67 %');
  t.false(d.isEjected('b'));
  const lone = new OutlierDetector({ ...od, maxEjectionPercent: 10 }, 0);
  lone.setHosts(['x']);
  for (let i = 0; i < 2; i++) lone.record('x', 500, 0);
  t.like(lone.record('x', 500, 0), { type: 'not-ejected' }, "Istio's default 10 % ejects nothing from one host");
  t.is(ejectableHosts(3, 10), 0);
  t.is(ejectableHosts(10, 10), 1);
  t.is(ejectableHosts(3, 34), 1);
  t.is(ejectableHosts(2, 50), 1);
});

test('consecutiveGatewayErrors counts 502, 503 and 504 (and local failures); a 500 breaks its run', (t) => {
  const d = new OutlierDetector({ ...od, consecutive5xxErrors: 0, consecutiveGatewayErrors: 2 }, 0);
  d.setHosts(['a', 'b']);
  d.record('a', 503, 0);
  d.record('a', 500, 0);
  d.record('a', 504, 0);
  t.false(d.isEjected('a'), 'the 500 broke the run of gateway errors');
  t.like(d.record('a', 502, 0), { type: 'eject', reason: 'CONSECUTIVE_GATEWAY_FAILURE' });
  const five = new OutlierDetector({ ...od, consecutive5xxErrors: 0, consecutiveGatewayErrors: 0 }, 0);
  five.setHosts(['a', 'b']);
  for (let i = 0; i < 10; i++) five.record('a', 503, 0);
  t.false(five.isEjected('a'), 'with both at 0, nothing is ejected');
});
