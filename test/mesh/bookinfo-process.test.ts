import test from 'ava';
import { availableParallelism } from 'node:os';
import { loadFile, startMesh, sleep, scrape, alive, type Sample } from '../helpers/mesh.js';
import { sessionSummary } from '../../src/mesh/summary.js';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { ATTR, attrString, type Span } from '../../src/telemetry/span.js';
import { ISTIO_LABELS } from '../../src/sidecar/identity.js';
import { ISTIO_ACCESS_LOG_FIELDS } from '../../src/telemetry/access-log.js';
import { istioTextLine } from '../../src/telemetry/access-log-text.js';

const ACCESS_LOG_FIELDS = [...ISTIO_ACCESS_LOG_FIELDS,

  'traceparent', 'upstream_request_attempt_count', 'reporter', 'workload', 'instance', 'destination_service',
];

test.serial('Bookinfo on local processes: traces, access logs and metrics agree, and nothing is left running', async (t) => {
  const loaded = await loadFile('scenarios/bookinfo.yaml');
  // The timeline is not this test's subject: default routing spreads reviews over v1, v2 and v3.
  const mesh = await startMesh({ ...loaded, scenario: { ...loaded.scenario, timeline: [], checks: [] } });
  const { session } = mesh;
  const runtime = session.runtime as ProcessRuntime;
  const pids = runtime.pids();
  t.is(runtime.nodeProcesses, Math.min(availableParallelism(), 64), 'pods packed on one node process per core');
  t.is(pids.length, runtime.nodeProcesses, '7 pods (6 instances and the gateway) on the nodes, no process per pod');
  session.beginTraffic();
  await sleep(3000);
  await session.stopTraffic();
  await sleep(300);
  const metrics = new Map<string, Sample[]>();
  for (const status of session.instances.values()) {
    const admin = status.started!.admin!;
    metrics.set(status.plan.id, await scrape(admin.host, admin.port));
  }
  await session.finish();
  t.true(pids.every((pid) => !alive(pid)), 'every process the run started has exited');

  const summary = sessionSummary(session);
  const answered = session.traffic!.counts.answered;
  t.true(answered > 30, `${answered} requests answered`);
  t.is(session.traffic!.counts.unanswered, 0);
  t.is(summary.services.productpage!.requests, answered, 'every request reached productpage once');
  t.is(summary.services.details!.requests, answered);
  t.is(summary.services.reviews!.requests, answered);
  const reviews = summary.services.reviews!.versions;
  t.is(reviews.v1! + reviews.v2! + reviews.v3!, answered);
  t.is(summary.services.ratings!.requests, reviews.v2! + reviews.v3!, 'only v2 and v3 call ratings');
  t.deepEqual(summary.traces, { count: answered, complete: answered, maxDepth: 3 });

  // One trace through v2 or v3 holds all four services, linked parent to child.
  const starred = session.traces.recent().find((trace) => trace.services.includes('ratings'))!;
  t.truthy(starred);
  const spans = session.traces.spansOf(starred.traceId)!;
  t.deepEqual([...new Set(spans.filter((s) => s.kind === 'server').map((s) => s.service))].sort(), ['details', 'productpage', 'ratings', 'reviews']);
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  for (const span of spans) {
    if (span.parentSpanId === undefined) {
      t.is(span.service, 'istio-ingressgateway', 'the gateway starts the trace');
      continue;
    }
    const parent = byId.get(span.parentSpanId) as Span;
    if (span.kind === 'server') {
      t.is(parent.kind, 'client', `${span.service}'s server span is a child of its caller's client span`);
      t.is(attrString(parent, ATTR.peerService), span.service);
    } else {
      t.is(parent.kind, 'server', `${span.service}'s client span is a child of its own server span`);
      t.is(parent.service, span.service);
    }
  }

  // Access logs: Envoy's fields, one line per request per side, agreeing with the summary.
  t.true(mesh.access.length > 0);
  for (const field of ACCESS_LOG_FIELDS) t.true(field in mesh.access[0]!, `access log has ${field}`);
  // The same entries in Istio's TEXT encoding: its 24 fields, nothing JSON-ish leaking through.
  const textField = String.raw`("[^"]*"|\S+)`;
  const textLine = new RegExp(String.raw`^\[\S+\] "\S+ \S+ \S+" \d+` + ` ${textField}`.repeat(19) + '$');
  for (const entry of mesh.access) {
    const line = istioTextLine(entry);
    t.regex(line, textLine);
    t.notRegex(line, /null|undefined/);
  }
  const inboundAt = (service: string) => mesh.access.filter((e) => e.reporter === 'destination' && e.destination_service === service);
  t.is(inboundAt('productpage').length, answered);
  t.is(inboundAt('ratings').length, summary.services.ratings!.requests);
  t.true(inboundAt('productpage').every((e) => e.response_code === 200 && e.bytes_sent === 4096 && e.response_flags === '-'));
  const fromGateway = mesh.access.filter((e) => e.reporter === 'source' && e.workload === 'istio-ingressgateway');
  t.is(fromGateway.length, answered);
  t.true(fromGateway.every((e) => /^outbound\|9080\|\|productpage\.default\.svc\.cluster\.local$/.test(e.upstream_cluster) && e.upstream_request_attempt_count === 1));
  t.regex(fromGateway[0]!.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

  // Metrics: Istio's names and labels, counts that agree with the summary.
  const requestsTotal = (samples: Sample[], filter: Record<string, string>) => samples
    .filter((s) => s.name === 'istio_requests_total' && Object.entries(filter).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
  const all = [...metrics.values()].flat();
  for (const label of ISTIO_LABELS) t.true(label in all.find((s) => s.name === 'istio_requests_total')!.labels, `label ${label}`);
  for (const service of ['productpage', 'details', 'reviews', 'ratings']) {
    t.is(requestsTotal(all, { reporter: 'destination', destination_service_name: service }), summary.services[service]!.requests, `${service} at reporter=destination`);
  }
  t.is(requestsTotal(all, { reporter: 'source', source_workload: 'productpage-v1', destination_service: 'reviews.default.svc.cluster.local' }), answered);
  t.is(requestsTotal(all, { reporter: 'destination', destination_workload: 'reviews-v2', source_workload: 'productpage-v1', response_code: '200' }), reviews.v2!);
  const edge = summary.edges.find((e) => e.source === 'reviews' && e.destination === 'ratings')!;
  t.is(requestsTotal(all, { reporter: 'source', destination_service_name: 'ratings' }), edge.requests, 'edges agree with reporter=source');
  const histogram = all.filter((s) => s.name === 'istio_request_duration_milliseconds_count' && s.labels.reporter === 'destination' && s.labels.destination_service_name === 'productpage');
  t.is(histogram.reduce((n, s) => n + s.value, 0), answered, 'the duration histogram counts every request');
  t.true(all.some((s) => s.name === 'istio_request_bytes_bucket') && all.some((s) => s.name === 'istio_response_bytes_sum'));
});
