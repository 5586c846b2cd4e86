// Istio's own tasks on Bookinfo, each run with the task's own YAML, end with the outcome
// Istio's docs state; the scenarios' checks encode it, and these look closer.
import test from 'ava';
import { runShipped } from '../helpers/shipped.js';

test.serial('request routing: all to v1, then jason alone to v2', async (t) => {
  const { summary } = await runShipped(t, 'istio/request-routing');
  t.is(summary.checks.length, 9);
});

test.serial("fault injection: jason's page fails after about 6 s and renders without reviews; then an abort answers at once", async (t) => {
  const { summary, access } = await runShipped(t, 'istio/fault-injection');
  const jason = summary.flows.jason!;
  t.true(jason.degraded > 20, `${jason.degraded} of jason's pages rendered without reviews`);
  t.deepEqual(Object.keys(jason.statuses), ['200'], 'degraded, never an error page');
  // reviews v2's sidecar delayed its calls to ratings (DI), and productpage gave up on them.
  t.true(access.some((e) => e.reporter === 'source' && e.workload === 'reviews-v2' && e.response_flags.includes('DI')));
  t.true(access.some((e) => e.reporter === 'source' && e.workload === 'reviews-v2' && e.response_flags === 'FI' && e.response_code === 500), 'the abort');
  t.is(summary.flows.visitors!.errors, 0);
});

test.serial('traffic shifting: half of reviews to v3, then all', async (t) => {
  const { summary } = await runShipped(t, 'istio/traffic-shifting');
  t.true(summary.services.reviews!.versions.v3! > summary.services.reviews!.versions.v1!);
});

test.serial('TCP traffic shifting: every connection to tcp-echo v1, then 20 % to v2, counted as connections', async (t) => {
  const { summary } = await runShipped(t, 'istio/tcp-traffic-shifting');
  const { v1, v2 } = summary.services['tcp-echo']!.versions;
  t.true(v1! > 250 && v2! > 20, `v1 ${v1}, v2 ${v2}`);
  t.is(summary.flows.nc!.errors, 0);
  t.deepEqual(Object.keys(summary.flows.nc!.statuses), ['200'], 'every echo came back');
  t.deepEqual(summary.edges.map((e) => `${e.source} → ${e.destination}`), ['istio-ingressgateway → tcp-echo']);
  t.is(summary.traces.count, 0, 'Envoy traces no TCP: connections are counted, not traced');
});

test.serial('request timeouts: a 0.5 s route timeout gives a 1 s page, because productpage tries twice', async (t) => {
  const { summary, access } = await runShipped(t, 'istio/request-timeouts');
  const timeouts = access.filter((e) => e.reporter === 'source' && e.workload === 'productpage-v1' && e.destination_service === 'reviews' && e.response_flags === 'UT');
  t.true(timeouts.length > 40, `${timeouts.length} timed out`);
  t.true(timeouts.every((e) => e.response_code === 504 && e.duration >= 495 && e.duration < 900));
  t.true(summary.flows.browser!.degraded > 40);
});

test.serial('circuit breaking: fortio at 3 connections trips the breaker, 503 UO from its own sidecar', async (t) => {
  const { summary, access } = await runShipped(t, 'istio/circuit-breaking');
  const overflowed = access.filter((e) => e.reporter === 'source' && e.response_flags === 'UO');
  t.true(overflowed.length >= 10, `${overflowed.length}`);
  t.true(overflowed.every((e) => e.response_code === 503 && e.upstream_host === null), 'answered before anything left the client');
  t.is(summary.flows['fortio-c3']!.requests, 30);
  t.is(summary.services.httpbin!.errors, 0, 'httpbin itself never failed, so outlier detection ejected nobody');
});

test.serial('mirroring: v2 gets a copy of every request, Host httpbin-shadow, its answers thrown away', async (t) => {
  const { summary, access } = await runShipped(t, 'istio/mirroring');
  const mirrored = access.filter((e) => e.reporter === 'destination' && e.workload === 'httpbin-v2');
  t.true(mirrored.length > 60);
  t.true(mirrored.every((e) => e.authority === 'httpbin-shadow:8000'));
  t.is(summary.flows.curl!.requests, summary.services.httpbin!.versions.v1!, 'the client saw only v1\'s answers');
});

test.serial("retries: an app's 503 is not retried by default; retryOn 5xx hides it from its caller", async (t) => {
  const { summary } = await runShipped(t, 'istio/retries');
  const edge = summary.edges.find((e) => e.source === 'reviews' && e.destination === 'ratings')!;
  const ratings = summary.services.ratings!;
  t.true(ratings.requests > edge.requests * 1.1, 'retries add load on ratings');
  t.true(edge.errors < ratings.errors * 0.6, `reviews saw ${edge.errors} failures of ratings' ${ratings.errors}`);
});
