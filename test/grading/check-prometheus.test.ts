import test from 'ava';
import { loadText, startMesh, sleep } from '../helpers/mesh.js';
import { jsonOf, runCli, scenarioFile } from '../helpers/cli.js';
import { meshWithPrometheus, missingPrometheus, withPrometheus } from '../helpers/prometheus.js';
import type { GradedCheck } from '../../src/cli/check.js';

// `mesh-sim check --prometheus` against a real Prometheus scraping a live mesh-sim run:
// the same scenario, graded from Istio's metrics, agrees with the run's own figures.

const scenario = `
name: graded
seed: 5
services:
  web: {latency: 5ms, calls: [api]}
  api:
    latency: 20ms
    errorRate: 0.2
traffic:
  - {to: web, rps: 40, arrival: uniform}
checks:
  - "requests(api) > 100"
  - "rps(api) > 10"
  - "error_rate(api) < 0.5"
  - "p50(api) < 1s"
  - "p99(flow:flow-1) < 5s"
  - "requests(web) > 100000"
`;

withPrometheus("check --prometheus agrees with the run's own figures, shows each query, and fails what does not hold", async (t) => {
  if (missingPrometheus(t)) return;
  const { mesh, url } = await meshWithPrometheus(t, scenario);
  // A scrape before the traffic, so every counter starts from a sample at zero.
  await sleep(2500);
  const from = Date.now() / 1000;
  mesh.session.beginTraffic();
  await sleep(12_000);
  await mesh.session.stopTraffic();
  await mesh.session.flushTelemetry();
  await sleep(3000);
  const to = Date.now() / 1000;
  const ours = mesh.session.stats.service('api', undefined, undefined);

  const file = await scenarioFile(scenario, 'graded.yaml');
  const result = await runCli(['check', file, '--prometheus', url, '--from', from.toFixed(3), '--to', to.toFixed(3), '--json']);
  t.is(result.code, 1, 'requests(web) > 100000 does not hold');
  const { checks } = jsonOf<{ checks: GradedCheck[] }>(result);
  const by = (expr: string) => checks.find((c) => c.expr === expr)!;

  const requests = by('requests(api) > 100');
  t.true(requests.ok);
  t.true(Math.abs(requests.value! - ours.requests) <= Math.max(3, ours.requests * 0.1), `Prometheus ${requests.value}, mesh-sim ${ours.requests}`);
  t.regex(requests.promql!, /istio_requests_total\{reporter="destination",destination_service_name="api"/);
  t.is(requests.value, ours.requests, 'exact: the counters grew by exactly what the sidecars counted');
  const errorRate = by('error_rate(api) < 0.5');
  t.true(Math.abs(errorRate.value! - ours.errorRate) <= 0.05, `Prometheus ${errorRate.value}, mesh-sim ${ours.errorRate}`);
  const p50 = by('p50(api) < 1s');
  // Istio's buckets around 20 ms are 10 and 25: the quantile is interpolated inside one.
  t.true(p50.value! >= 10 && p50.value! <= 25 && ours.p50Ms >= 10 && ours.p50Ms <= 25, `Prometheus ${p50.value} ms, mesh-sim ${ours.p50Ms} ms`);
  t.true(by('rps(api) > 10').ok);
  t.truthy(by('p99(flow:flow-1) < 5s').notJudged, "a flow's own view is not in Istio's metrics");
  t.false(by('requests(web) > 100000').ok);

  const text = await runCli(['check', file, '--prometheus', url, '--from', from.toFixed(3), '--to', to.toFixed(3)]);
  t.regex(text.stdout, /PASS requests\(api\) > 100: measured \d+/);
  t.regex(text.stdout, /\n {7}sum\(\(\(istio_requests_total/);
  t.regex(text.stdout, /SKIP p99\(flow:flow-1\) < 5s/);
  t.regex(text.stdout, /FAIL requests\(web\) > 100000/);

  const unreachable = await runCli(['check', file, '--prometheus', 'http://127.0.0.1:1', '--from', 'now-1m']);
  t.is(unreachable.code, 2);
  t.regex(unreachable.stderr, /cannot reach Prometheus at http:\/\/127\.0\.0\.1:1\//);
});
