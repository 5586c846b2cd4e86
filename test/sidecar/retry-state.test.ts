// One request's retries on their own: tries left, the retry rule, the cluster's retry
// budget, and the backoff between tries.
import test from 'ava';
import { RetryState } from '../../src/sidecar/router/retry-state.js';
import { Cluster } from '../../src/sidecar/cluster.js';
import { defaultRetryPolicy, defaultTrafficPolicy } from '../../src/policy/config.js';

const cluster = (maxRetries = 4_294_967_295) => {
  const policy = defaultTrafficPolicy();
  policy.connectionPool.maxRetries = maxRetries;
  return new Cluster('b', undefined, 9080, policy, () => {});
};

test('a retriable outcome is retried until the attempts run out, then says limit-exceeded (URX)', (t) => {
  const c = cluster();
  const state = new RetryState({ ...defaultRetryPolicy(), attempts: 2, retryOn: ['5xx'] }, c, 1, 'k');
  t.is(state.maxTries, 3);
  t.is(state.shouldRetry({ kind: 'response', status: 500 }), 'retry');
  t.is(c.retriesInFlight, 1, 'a retry holds a place in the budget');
  t.is(state.shouldRetry({ kind: 'response', status: 500 }), 'retry');
  t.is(c.retriesInFlight, 1, 'only one at a time: the previous retry gave its place back');
  t.is(state.shouldRetry({ kind: 'response', status: 500 }), 'limit-exceeded');
  t.is(state.shouldRetry({ kind: 'response', status: 404 }), 'no');
  t.is(state.shouldRetry({ kind: 'overall-timeout' }), 'no', 'the route timeout ends every try');
  state.release();
  t.is(c.retriesInFlight, 0);
});

test('attempts 0 turns retries off', (t) => {
  const state = new RetryState({ ...defaultRetryPolicy(), attempts: 0 }, cluster(), 1, 'k');
  t.is(state.shouldRetry({ kind: 'connect-failure' }), 'no');
});

test("the cluster's retry budget is shared by its requests: past maxRetries a retry overflows", (t) => {
  const c = cluster(1);
  const a = new RetryState({ ...defaultRetryPolicy(), retryOn: ['5xx'] }, c, 1, 'a');
  const b = new RetryState({ ...defaultRetryPolicy(), retryOn: ['5xx'] }, c, 1, 'b');
  t.is(a.shouldRetry({ kind: 'reset' }), 'retry');
  t.is(b.shouldRetry({ kind: 'reset' }), 'overflow');
  a.release();
  const c2 = new RetryState({ ...defaultRetryPolicy(), retryOn: ['5xx'] }, c, 1, 'c');
  t.is(c2.shouldRetry({ kind: 'reset' }), 'retry');
});

test('the backoff is drawn from the seed under a ceiling that doubles', (t) => {
  const state = new RetryState({ ...defaultRetryPolicy(), retryOn: ['5xx'], backoffMs: 100 }, cluster(), 1, 'k');
  state.shouldRetry({ kind: 'reset' });
  const first = state.backoff();
  state.shouldRetry({ kind: 'reset' });
  const second = state.backoff();
  t.true(first >= 0 && first < 100);
  t.true(second >= 0 && second < 200);
  const again = new RetryState({ ...defaultRetryPolicy(), retryOn: ['5xx'], backoffMs: 100 }, cluster(), 1, 'k');
  again.shouldRetry({ kind: 'reset' });
  t.is(again.backoff(), first, 'the same request backs off alike every run');
});
