// Each mesh policy on real processes, with numbers derived from the spec.
import test from 'ava';
import { crashScenario, runScenario, sumOf } from '../helpers/mesh.js';
import { quantile } from '../helpers/quantile.js';
import { ATTR } from '../../src/telemetry/span.js';

test.serial('retries: errorRate 0.3 with 2 retries on 5xx gives the caller ~2.7 % errors and the callee ~1.39x its requests', async (t) => {
  const run = await runScenario(`
name: retries
services:
  a: {calls: [b]}
  b: {errorRate: 0.3}
  c: {calls: [d]}
  d: {errorRate: 0.3}
mesh:
  b:
    retries: {attempts: 2, retryOn: "5xx"}
traffic:
  - {to: a, rps: 200, arrival: uniform}
  - {to: c, rps: 100, arrival: uniform}
`, 6);
  const { a, b, c, d } = run.summary.services as Record<string, { requests: number; errors: number }>;
  t.true(a!.requests > 1000, `${a!.requests}`);
  const callerErrors = a!.errors / a!.requests;
  t.true(Math.abs(callerErrors - 0.027) < 0.015, `caller error rate ${callerErrors}`);
  const amplification = b!.requests / a!.requests;
  t.true(Math.abs(amplification - 1.39) < 0.06, `callee/caller ${amplification}`);
  // Istio's default retry policy does not retry an app's 503: the caller sees all of them.
  const unretried = c!.errors / c!.requests;
  t.true(Math.abs(unretried - 0.3) < 0.05, `default policy: ${unretried}`);
  t.is(d!.requests, c!.requests, 'no retries under the default policy');
  // Each attempt is a client span marked as a retry; the final failures carry URX.
  const fromA = run.access.filter((e) => e.reporter === 'source' && e.destination_service === 'b');
  t.true(fromA.some((e) => e.upstream_request_attempt_count === 3));
  t.true(fromA.filter((e) => e.response_code >= 500).every((e) => e.response_flags === 'URX' && e.upstream_request_attempt_count === 3));
  const retrySpans = run.session.traces.recent().flatMap((tr) => run.session.traces.spansOf(tr.traceId) ?? []).filter((s) => s.attributes[ATTR.retry] === true);
  t.true(retrySpans.length > 0, 'retries appear as their own client spans');
  t.true(sumOf(run.metrics, 'envoy_cluster_upstream_rq_retry') > 0);
});

test.serial('routes: a header match wins first, the rest splits by weight', async (t) => {
  const run = await runScenario(`
name: routes
services:
  web: {calls: [reviews]}
  reviews:
    versions: {v1: {}, v2: {}, v3: {}}
mesh:
  reviews:
    routes:
      - match: {headers: {end-user: {exact: jason}}}
        route: [{version: v2}]
      - route: [{version: v1, weight: 90}, {version: v3, weight: 10}]
traffic:
  - {name: everyone, to: web, rps: 150, arrival: uniform}
  - {name: jason, to: web, rps: 20, arrival: uniform, headers: {end-user: jason}}
`, 5);
  const versions = run.summary.services.reviews!.versions;
  const jason = run.summary.traffic.answered - run.access.filter((e) => e.reporter === 'source' && e.workload === 'istio-ingressgateway' && e.destination_service === 'web').length;
  t.is(jason, 0, 'every request was logged at the gateway');
  // Uniform arrivals at 20 rps fall at 50, 100, ... ms; the one at 5000 ms is past the end.
  const jasonSent = Math.ceil((5000 * 20) / 1000) - 1;
  t.is(versions.v2, jasonSent, 'every request with end-user: jason went to v2, and only those');
  const share = versions.v3! / (versions.v1! + versions.v3!);
  t.true(Math.abs(share - 0.1) < 0.03, `v3 share ${share}`);
  const jasonSpans = run.session.traces.recent().flatMap((tr) => run.session.traces.spansOf(tr.traceId) ?? [])
    .filter((s) => s.kind === 'client' && s.attributes[ATTR.destinationVersion] === 'v2');
  t.true(jasonSpans.length > 0 && jasonSpans.every((s) => s.attributes[ATTR.ruleName] === 'VirtualService reviews http[0]'
    && String(s.attributes[ATTR.rule]).startsWith('test.yaml:')), 'a span names the rule that routed it, and where it is');
});

test.serial('faults: delays are added before the call, aborts are not retried', async (t) => {
  const run = await runScenario(`
name: faults
services:
  a: {calls: [b]}
  b: {}
  c: {calls: [d]}
  d: {}
mesh:
  b:
    fault: {delay: {percentage: 50, fixedDelay: 200ms}}
  d:
    retries: {attempts: 2, retryOn: "5xx"}
    fault: {abort: {percentage: 20, httpStatus: 503}}
traffic:
  - {to: a, rps: 80, arrival: uniform}
  - {to: c, rps: 150, arrival: uniform}
`, 5);
  const delayed = run.access.filter((e) => e.reporter === 'source' && e.destination_service === 'b');
  const di = delayed.filter((e) => e.response_flags.includes('DI'));
  t.true(Math.abs(di.length / delayed.length - 0.5) < 0.1, `${di.length}/${delayed.length} delayed`);
  t.true(di.every((e) => e.duration >= 195), 'a delayed call lasts at least the delay');
  // The rest carry no delay. Judged on the bulk, not on every call: on a busy machine one
  // undelayed call may be slow for reasons that have nothing to do with the fault.
  const undelayed = delayed.filter((e) => !e.response_flags.includes('DI')).map((e) => e.duration);
  t.true(quantile(undelayed, 0.9) < 100, `p90 of undelayed calls ${quantile(undelayed, 0.9)} ms`);
  const aborted = run.access.filter((e) => e.reporter === 'source' && e.destination_service === 'd');
  const fi = aborted.filter((e) => e.response_flags === 'FI');
  t.true(Math.abs(fi.length / aborted.length - 0.2) < 0.05, `${fi.length}/${aborted.length} aborted`);
  t.true(fi.every((e) => e.response_code === 503 && e.upstream_request_attempt_count === 0), 'an abort never leaves the caller');
  t.is(run.summary.services.d!.requests, aborted.length - fi.length, 'aborted calls are not retried; d sees only the rest');
  t.is(run.summary.services.c!.errors, fi.length, 'each abort fails its caller');
});

test.serial('timeouts: the overall timeout answers 504 UT; per-try timeouts are retried', async (t) => {
  const run = await runScenario(`
name: timeouts
services:
  a: {calls: [slow]}
  slow: {latency: 300ms}
  b: {calls: [sluggish]}
  sluggish: {latency: 300ms}
mesh:
  slow:
    timeout: 100ms
  sluggish:
    timeout: 2s
    retries: {attempts: 2, perTryTimeout: 50ms, retryOn: "5xx"}
traffic:
  - {to: a, rps: 20, arrival: uniform}
  - {to: b, rps: 20, arrival: uniform}
`, 4);
  const toSlow = run.access.filter((e) => e.reporter === 'source' && e.destination_service === 'slow');
  t.true(toSlow.length > 50);
  t.true(toSlow.every((e) => e.response_code === 504 && e.response_flags === 'UT' && e.duration >= 95), 'UT, never before 100 ms');
  t.true(quantile(toSlow.map((e) => e.duration), 0.5) < 200, 'UT at 100 ms, not when the callee answers at 300 ms');
  t.true(run.access.filter((e) => e.reporter === 'destination' && e.destination_service === 'slow').every((e) => e.response_flags === 'DC'), 'slow saw its callers hang up');
  const toSluggish = run.access.filter((e) => e.reporter === 'source' && e.destination_service === 'sluggish');
  t.true(toSluggish.every((e) => e.response_code === 504 && e.response_flags === 'UT,URX' && e.upstream_request_attempt_count === 3));
  // Each request tried three times (above). An attempt cancelled by its per-try timeout
  // before its bytes left the caller never reaches the callee, so it sees at most that.
  const seen = run.summary.services.sluggish!.requests;
  t.true(seen <= 3 * toSluggish.length && seen >= 0.97 * 3 * toSluggish.length, `sluggish saw ${seen} of ${3 * toSluggish.length} tries`);
  t.true(sumOf(run.metrics, 'envoy_cluster_upstream_rq_timeout') > 0);
});

test.serial('mirror: a copy goes to another version and its answer is discarded', async (t) => {
  const run = await runScenario(`
name: mirror
services:
  web: {calls: [api]}
  api:
    versions:
      v1: {}
      v2: {errorRate: 1}
mesh:
  api:
    routes: [{route: [{version: v1}]}]
    mirror: {version: v2, percentage: 50}
traffic:
  - {to: web, rps: 100, arrival: uniform}
`, 4);
  const { v1, v2 } = run.summary.services.api!.versions as Record<string, number>;
  t.is(v1, run.summary.services.web!.requests, 'every call is answered by v1');
  t.true(Math.abs(v2! / v1! - 0.5) < 0.08, `mirrored ${v2}/${v1}`);
  t.is(run.summary.services.web!.errors, 0, "v2's failures never reach the caller");
  const shadowed = run.access.filter((e) => e.reporter === 'destination' && e.destination_service === 'api' && e.authority?.endsWith('-shadow:8080'));
  t.is(shadowed.length, v2!);
});

test.serial('connection pool: past maxConnections and the pending queue, requests overflow at once with 503 UO', async (t) => {
  const run = await runScenario(`
name: pool
services:
  web: {calls: [api]}
  api: {latency: 200ms}
mesh:
  api:
    connectionPool: {maxConnections: 2, http1MaxPendingRequests: 2}
traffic:
  - {to: web, rps: 50, arrival: uniform}
`, 4);
  const calls = run.access.filter((e) => e.reporter === 'source' && e.destination_service === 'api');
  const overflowed = calls.filter((e) => e.response_flags === 'UO');
  t.true(overflowed.length > calls.length / 2, `${overflowed.length}/${calls.length} overflowed`);
  t.true(overflowed.every((e) => e.response_code === 503), 'an overflow answers 503');
  t.true(quantile(overflowed.map((e) => e.duration), 0.9) < 50, 'an overflow fails at once, without waiting for a connection');
  t.true(run.summary.services.api!.rps <= 11, `two connections at 200 ms carry at most 10 rps: ${run.summary.services.api!.rps}`);
  t.is(sumOf(run.metrics, 'envoy_cluster_upstream_rq_pending_overflow'), overflowed.length);
});

test.serial("outlier detection ejects a failing host, for longer each time, and logs and counts it", async (t) => {
  const run = await runScenario(`
name: outlier
services:
  web: {calls: [api]}
  api:
    versions:
      good: {replicas: 2}
      bad: {errorRate: 1}
mesh:
  api:
    outlierDetection: {consecutive5xxErrors: 3, interval: 500ms, baseEjectionTime: 2s, maxEjectionPercent: 50}
traffic:
  - {to: web, rps: 60, arrival: uniform}
`, 7);
  const ejections = run.outlier.filter((e) => e.action === 'EJECT');
  t.true(ejections.length >= 2, `${ejections.length} ejections`);
  t.true(ejections.every((e) => e.cluster_name === 'outbound|8080||api.default.svc.cluster.local'));
  t.deepEqual(ejections.slice(0, 2).map((e) => e.eject_duration_ms), [2000, 4000], "Envoy's ejection time grows with each ejection");
  t.true(run.outlier.some((e) => e.action === 'UNEJECT'));
  t.true(run.outlier.filter((e) => e.action === 'EJECT').every((e) => ejections[0]!.upstream_url === e.upstream_url), 'only the bad host');
  t.true(sumOf(run.metrics, 'envoy_cluster_outlier_detection_ejections_enforced_total') >= 2);
  const errorShare = run.summary.services.web!.errors / run.summary.services.web!.requests;
  t.true(errorShare < 0.15, `ejection keeps errors far below a third: ${errorShare}`);
});

test.serial('kill and restart: callers see connection failures, then no healthy upstream, then recovery', async (t) => {
  const run = await runScenario(crashScenario(50, '1s', '4s'), 7);
  const calls = run.access.filter((e) => e.reporter === 'source' && e.destination_service === 'api').sort((x, y) => x.start_time.localeCompare(y.start_time));
  const flags = new Set(calls.map((e) => e.response_flags));
  t.true(flags.has('UF'), 'a dead endpoint refuses connections (UF) until the endpoint list catches up');
  t.true(flags.has('UH'), 'then no healthy upstream (UH)');
  const last = calls.slice(-40);
  t.true(last.every((e) => e.response_code === 200), 'after the restart, all is well');
  t.is(run.session.instances.get('api-v1-0')?.state, 'ready');
});

test.serial('live changes reach every sidecar without dropping in-flight requests', async (t) => {
  const flips = Array.from({ length: 8 }, (_, i) => `  - {at: ${(i + 1) * 400}ms, set: {mesh: {api: {routes: [{route: [{version: v${(i % 2) + 1}}]}]}}}}`).join('\n');
  const run = await runScenario(`
name: flips
services:
  web: {calls: [api]}
  api:
    latency: 150ms
    versions: {v1: {}, v2: {}}
traffic:
  - {to: web, rps: 100, arrival: uniform}
timeline:
${flips}
`, 4);
  t.is(run.summary.services.web!.errors, 0, 'no request failed while config changed under it');
  t.is(run.summary.traffic.unanswered, 0);
  t.true(run.summary.services.api!.versions.v1! > 50 && run.summary.services.api!.versions.v2! > 50);
});
