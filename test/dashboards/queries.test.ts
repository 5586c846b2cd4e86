// Every PromQL query of every dashboard, run against a real Prometheus scraping a
// running mesh, returns data.
import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadText, startMesh, sleep } from '../helpers/mesh.js';
import { missingPrometheus, withPrometheus } from '../helpers/prometheus.js';
import { PACKAGE_ROOT } from '../../src/version.js';

// Something for every panel: a failing version (5xx), its ejection, retries,
// aborts (FI) and a connection pool that overflows (UO).
const scenario = `
name: dashboards
seed: 3
services:
  web: {calls: [api, {service: cache, optional: true}]}
  api:
    versions:
      v1: {replicas: 2}
      v2: {errorRate: 1}
  cache: {latency: 100ms}
mesh:
  api:
    retries: {attempts: 1, retryOn: "5xx"}
    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 50}
  cache:
    fault: {abort: {percentage: 10, httpStatus: 503}}
    connectionPool: {maxConnections: 1, http1MaxPendingRequests: 1}
traffic:
  - {to: web, rps: 40}
`;

interface Panel {
  title: string;
  targets?: Array<{ expr: string }>;
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; query: { query: string } }> };
}

/** Grafana's variables, as a person would pick them. */
function substitute(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '15s')
    .replaceAll('$service', 'cache.default.svc.cluster.local')
    .replaceAll('$version', '.*');
}

async function query(prometheus: string, expr: string): Promise<{ status: string; data: { result: unknown[] }; error?: string }> {
  const res = await fetch(`${prometheus}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  return (await res.json()) as { status: string; data: { result: unknown[] }; error?: string };
}

const run = withPrometheus;

run("every dashboard query returns data from a real Prometheus scraping the mesh", async (t) => {
  if (missingPrometheus(t)) return;
  const files = (await readdir(join(PACKAGE_ROOT, 'dashboards'))).filter((f) => f.endsWith('.json'));
  t.true(files.length >= 2, 'a mesh and a service dashboard');
  const dashboards = await Promise.all(files.map(async (f) => JSON.parse(await readFile(join(PACKAGE_ROOT, 'dashboards', f), 'utf8')) as Dashboard));

  const mesh = await startMesh(await loadText(scenario));
  t.teardown(() => mesh.session.shutdown());
  const observability = await mesh.session.startObservability(1);
  t.truthy(observability.prometheus, observability.notes.join('; '));
  t.regex(observability.prometheus!, /^http:\/\/127\.0\.0\.1:\d+$/, 'Prometheus listens on loopback');
  mesh.session.beginTraffic();
  await sleep(14_000);

  const targets = (await (await fetch(`${observability.prometheus}/api/v1/targets`)).json()) as { data: { activeTargets: Array<{ health: string }> } };
  t.is(targets.data.activeTargets.length, 6, 'every sidecar (5 pods and the gateway) is a target');
  t.true(targets.data.activeTargets.every((target) => target.health === 'up'));

  let queries = 0;
  for (const dashboard of dashboards) {
    for (const variable of dashboard.templating.list) {
      const match = /^label_values\((.+), (\w+)\)$/.exec(substitute(variable.query.query));
      t.truthy(match, `${dashboard.title}: variable ${variable.name} is a label_values query`);
      const res = await fetch(`${observability.prometheus}/api/v1/label/${match![2]}/values?${new URLSearchParams({ 'match[]': match![1]! })}`);
      const values = ((await res.json()) as { data: string[] }).data;
      t.true(values.length > 0, `${dashboard.title}: variable ${variable.name} has values`);
    }
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        const expr = substitute(target.expr);
        const answer = await query(observability.prometheus!, expr);
        queries++;
        t.is(answer.status, 'success', `${dashboard.title} / ${panel.title}: ${answer.error ?? ''}\n${expr}`);
        t.true(answer.data.result.length > 0, `${dashboard.title} / ${panel.title} returns data:\n${expr}`);
      }
    }
  }
  t.true(queries >= 25, `${queries} queries`);
});

test('dashboards are Grafana dashboards on the provisioned Prometheus data source', async (t) => {
  const files = (await readdir(join(PACKAGE_ROOT, 'dashboards'))).filter((f) => f.endsWith('.json'));
  const uids = new Set<string>();
  for (const file of files) {
    const dashboard = JSON.parse(await readFile(join(PACKAGE_ROOT, 'dashboards', file), 'utf8')) as Dashboard & { panels: Array<Panel & { datasource: { uid: string }; gridPos: object }> };
    t.truthy(dashboard.uid && dashboard.title, file);
    t.false(uids.has(dashboard.uid), 'uids are unique');
    uids.add(dashboard.uid);
    for (const panel of dashboard.panels) {
      t.is(panel.datasource.uid, 'prometheus', `${file} / ${panel.title} uses the provisioned data source`);
      t.truthy(panel.gridPos);
      for (const target of panel.targets ?? []) t.regex(target.expr, /istio_|envoy_cluster_/, 'built on the metric names the sidecars export');
    }
  }
  const datasource = await readFile(join(PACKAGE_ROOT, 'compose', 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8');
  t.regex(datasource, /uid: prometheus/);
});
