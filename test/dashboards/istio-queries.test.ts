// The queries Istio's own Grafana dashboards and Kiali's graph run, in their shapes
// (written here, not copied), against a real Prometheus scraping a live mesh: with
// automatic mTLS the mTLS panels have data and principals are SPIFFE IDs; a legacy
// client without a sidecar shows as plaintext; a request that reaches no pod (503 UH)
// is labelled unknown; byte histograms count headers; istio_build is there.
import test from 'ava';
import { loadText, startMesh, sleep } from '../helpers/mesh.js';
import { meshWithPrometheus, missingPrometheus, withPrometheus } from '../helpers/prometheus.js';

const scenario = `
name: istio-queries
seed: 9
services:
  web: {calls: [api, {service: gone, optional: true}]}
  legacy: {sidecar: false, calls: [api]}
  api:
    versions: {v1: {}, v2: {}}
  gone: {replicas: 0}
traffic:
  - {to: web, rps: 20, arrival: uniform}
  - {to: legacy, rps: 10, arrival: uniform}
`;

type Vector = Array<{ metric: Record<string, string>; value: [number, string] }>;

async function query(prometheus: string, expr: string): Promise<Vector> {
  const res = await fetch(`${prometheus}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  const body = (await res.json()) as { status: string; data: { result: Vector }; error?: string };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data.result;
}

withPrometheus("Istio's dashboard and Kiali query shapes read mTLS, identities, unknown destinations and sizes as on a real mesh", async (t) => {
  if (missingPrometheus(t)) return;
  const { mesh, url } = await meshWithPrometheus(t, scenario);
  mesh.session.beginTraffic();
  await sleep(12_000);
  const q = (expr: string) => query(url, expr);
  const api = 'api.default.svc.cluster.local';

  // Istio Service dashboard, "Incoming Requests By Source And Response Code": the mTLS half and the plaintext half.
  const mtls = await q(`round(sum(irate(istio_requests_total{reporter="destination",connection_security_policy="mutual_tls",destination_service=~"${api}"}[1m])) by (source_workload, source_workload_namespace, response_code), 0.001)`);
  t.deepEqual(mtls.map((r) => r.metric.source_workload).sort(), ['web-v1'], 'web calls api over mutual TLS');
  const plain = await q(`round(sum(irate(istio_requests_total{reporter="destination",connection_security_policy!="mutual_tls",destination_service=~"${api}"}[1m])) by (source_workload, source_workload_namespace, response_code), 0.001)`);
  t.deepEqual(plain.map((r) => r.metric.source_workload), ['unknown'], 'the legacy client has no sidecar: plaintext, and no identity to tell');
  t.true(Number(mtls[0]!.value[1]) > 5 && Number(plain[0]!.value[1]) > 2, 'both at their rates');

  // Principals, as the workload dashboard's inbound panels and Kiali's security badges read them.
  const principals = await q(`sum(istio_requests_total{reporter="destination",destination_service_name="api"}) by (source_principal, destination_principal, connection_security_policy)`);
  const byPolicy = new Map(principals.map((r) => [r.metric.connection_security_policy, r.metric]));
  t.like(byPolicy.get('mutual_tls'), { source_principal: 'spiffe://cluster.local/ns/default/sa/web', destination_principal: 'spiffe://cluster.local/ns/default/sa/api' });
  t.like(byPolicy.get('none'), { source_principal: 'unknown', destination_principal: 'unknown' });
  const gateway = await q(`sum(istio_requests_total{reporter="destination",destination_service_name="web"}) by (source_principal)`);
  t.is(gateway[0]?.metric.source_principal, 'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account');
  t.true((await q('sum(istio_requests_total{reporter="source",connection_security_policy!="unknown"})')).length === 0, 'the source reporter says unknown, as Istio\'s does');

  // A request that reaches no pod: 503 UH, its destination's workload labels unknown, its service known.
  const uh = await q('sum(istio_requests_total{reporter="source",response_flags="UH"}) by (destination_service_name, destination_workload, destination_app, destination_version, destination_canonical_service, destination_workload_namespace)');
  t.is(uh.length, 1);
  t.like(uh[0]!.metric, {
    destination_service_name: 'gone', destination_workload: 'unknown', destination_app: 'unknown', destination_version: 'unknown',
    destination_canonical_service: 'unknown', destination_workload_namespace: 'unknown',
  });

  // Istio's "Request Size By Source" and "Response Size": headers count, so nothing is near zero.
  const requestSize = await q(`histogram_quantile(0.50, sum(irate(istio_request_bytes_bucket{reporter="destination",destination_service=~"${api}"}[1m])) by (source_workload, le))`);
  t.true(requestSize.length > 0 && requestSize.every((r) => Number(r.value[1]) > 50), `request sizes: ${requestSize.map((r) => r.value[1]).join(', ')}`);
  const meanRequest = await q(`sum(rate(istio_request_bytes_sum{reporter="destination",destination_service=~"${api}"}[1m])) / sum(rate(istio_request_bytes_count{reporter="destination",destination_service=~"${api}"}[1m]))`);
  t.true(Number(meanRequest[0]!.value[1]) > 50, `mean request ${meanRequest[0]!.value[1]} B: headers and body`);
  const meanResponse = await q(`sum(rate(istio_response_bytes_sum{reporter="destination",destination_service=~"${api}"}[1m])) / sum(rate(istio_response_bytes_count{reporter="destination",destination_service=~"${api}"}[1m]))`);
  t.true(Number(meanResponse[0]!.value[1]) > 128, `mean response ${meanResponse[0]!.value[1]} B: a 128 B body and its headers`);

  // Kiali's versioned-app graph: edges by source workload to destination app and version, with security.
  const graph = await q('sum(rate(istio_requests_total{reporter="destination",source_workload_namespace!="unknown"}[1m])) by (source_workload, source_canonical_service, destination_service_name, destination_canonical_revision, connection_security_policy, response_code)');
  const edges = new Set(graph.map((r) => `${r.metric.source_canonical_service}>${r.metric.destination_service_name}:${r.metric.destination_canonical_revision}:${r.metric.connection_security_policy}`));
  for (const edge of ['web>api:v1:mutual_tls', 'web>api:v2:mutual_tls', 'istio-ingressgateway>web:v1:mutual_tls']) t.true(edges.has(edge), `${edge} in ${[...edges].join(' ')}`);

  // The dashboards' version panels.
  const build = await q('sum(istio_build{component="proxy"}) by (tag)');
  t.is(build.length, 1);
  t.true(Number(build[0]!.value[1]) >= 5, 'every proxy reports its build');
});

const tcpScenario = `
name: tcp-queries
seed: 4
services:
  tcp-echo:
    port: 9000
    protocol: tcp
    versions: {v1: {}, v2: {}}
istio:
  - apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata: {name: tcp-echo}
    spec: {host: tcp-echo, subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}
  - apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: tcp-echo}
    spec:
      hosts: [tcp-echo]
      tcp: [{route: [{destination: {host: tcp-echo, subset: v1}, weight: 80}, {destination: {host: tcp-echo, subset: v2}, weight: 20}]}]
traffic:
  - {to: tcp-echo, rps: 20, arrival: uniform}
`;

withPrometheus("Istio's dashboard TCP panels and Kiali's TCP graph query read a tcp service's connections and bytes", async (t) => {
  if (missingPrometheus(t)) return;
  const { mesh, url } = await meshWithPrometheus(t, tcpScenario);
  mesh.session.beginTraffic();
  await sleep(10_000);
  const q = (expr: string) => query(url, expr);
  const service = 'tcp-echo.default.svc.cluster.local';
  // Istio Service dashboard, "Bytes Received from Incoming TCP Connection" and "Bytes Sent to Incoming TCP Connection".
  for (const metric of ['istio_tcp_received_bytes_total', 'istio_tcp_sent_bytes_total']) {
    const rows = await q(`round(sum(irate(${metric}{reporter="destination",connection_security_policy="mutual_tls",destination_service=~"${service}"}[1m])) by (source_workload, source_workload_namespace), 0.001)`);
    t.deepEqual(rows.map((r) => r.metric.source_workload), ['istio-ingressgateway'], metric);
    t.true(Number(rows[0]!.value[1]) > 0, `${metric} has a rate`);
  }
  // Kiali's TCP edges: bytes per source and destination workload version, from the source reporter.
  const edges = await q('sum(rate(istio_tcp_sent_bytes_total{reporter="source"}[1m])) by (source_workload, destination_service_name, destination_version) > 0');
  t.deepEqual(edges.map((r) => `${r.metric.source_workload} → ${r.metric.destination_service_name} ${r.metric.destination_version}`).sort(),
    ['istio-ingressgateway → tcp-echo v1', 'istio-ingressgateway → tcp-echo v2']);
  // The Mesh dashboard's TCP count, split as the route says.
  const opened = await q('sum(istio_tcp_connections_opened_total{reporter="destination"}) by (destination_version)');
  const by = Object.fromEntries(opened.map((r) => [r.metric.destination_version, Number(r.value[1])]));
  const share = by.v2! / (by.v1! + by.v2!);
  t.true(by.v1! + by.v2! > 100 && Math.abs(share - 0.2) < 0.1, `v2 ${(100 * share).toFixed(1)} % of ${by.v1! + by.v2!}`);
});
