import test from 'ava';
import { EventEmitter } from 'node:events';
import { UiStore } from '../../src/tui/store.js';
import { RequestStats } from '../../src/telemetry/stats.js';
import { TraceStore } from '../../src/telemetry/traces.js';
import { ATTR, type Span } from '../../src/telemetry/span.js';
import type { MeshSession } from '../../src/mesh/session.js';
import type { AccessLogEntry, OutlierEventEntry } from '../../src/telemetry/access-log.js';
import { parseScenario } from '../../src/scenario/load.js';

const { scenario } = parseScenario('name: s\nservices:\n  web: {calls: [api]}\n  api: {versions: {v1: {}, v2: {}}}\ntraffic: [{to: web, rps: 10}]\n', 's.yaml');

function fakeSession() {
  const emitter = new EventEmitter();
  const plan = (id: string, service: string, version: string) => ({ id, service, version, replica: 0, workload: `${service}-${version}`, kind: 'sample' as const, command: undefined, image: undefined, servicePort: 8080 });
  const instances = new Map([
    ['web-v1-0', { plan: plan('web-v1-0', 'web', 'v1'), state: 'ready', started: { id: 'web-v1-0', endpoint: { host: '127.0.0.1', port: 1001 }, ingress: undefined, admin: undefined }, generation: 1, since: 0 }],
    ['api-v1-0', { plan: plan('api-v1-0', 'api', 'v1'), state: 'ready', started: { id: 'api-v1-0', endpoint: { host: '127.0.0.1', port: 1002 }, ingress: undefined, admin: undefined }, generation: 1, since: 0 }],
    ['api-v2-0', { plan: plan('api-v2-0', 'api', 'v2'), state: 'killed', started: { id: 'api-v2-0', endpoint: { host: '127.0.0.1', port: 1003 }, ingress: undefined, admin: undefined }, generation: 1, since: 0 }],
  ]);
  return Object.assign(emitter, {
    scenario, seed: 1, stats: new RequestStats(), traces: new TraceStore(), instances, checkResults: [], timelineEvents: [],
    timeline: undefined, trafficStartedAt: Date.now() - 60_000, plane: { configVersion: 1 },
  }) as unknown as MeshSession & EventEmitter;
}

const access = (i: number): AccessLogEntry => ({
  start_time: new Date().toISOString(), method: 'GET', path: `/x/${i}`, protocol: 'HTTP/1.1', response_code: 200, response_flags: '-',
  response_code_details: 'via_upstream', bytes_received: 0, bytes_sent: 10, duration: 3, upstream_service_time: null, upstream_host: null,
  upstream_cluster: 'inbound|1||', upstream_request_attempt_count: 1, request_id: 'r', traceparent: 't', connection_termination_details: null, upstream_transport_failure_reason: null, x_forwarded_for: null, upstream_local_address: null, downstream_local_address: null, downstream_remote_address: null, requested_server_name: null, authority: 'api:8080',
  user_agent: null, route_name: null, reporter: 'destination', workload: 'api-v1', instance: 'api-v1-0', destination_service: 'api',
});

test('the log keeps the newest lines only, however many arrive', (t) => {
  const session = fakeSession();
  const store = new UiStore(session, 'process');
  for (let i = 0; i < 10_000; i++) session.emit('log', { kind: 'access', entry: access(i) }, { instance: 'api-v1-0', container: 'sidecar', stream: 'stdout', text: '' });
  const snapshot = store.snapshot();
  t.is(snapshot.logCount, 10_000);
  t.true(snapshot.logs.length <= 2200, `${snapshot.logs.length} lines kept`);
  t.is(snapshot.logs[snapshot.logs.length - 1]!.path, '/x/9999');
  t.is(snapshot.logs[0]!.service, 'api');
});

test('an instance ejected by a caller is marked, and unmarked when it returns', (t) => {
  const session = fakeSession();
  const store = new UiStore(session, 'process');
  const event = (action: OutlierEventEntry['action']): OutlierEventEntry => ({
    timestamp: new Date().toISOString(), type: 'CONSECUTIVE_5XX', action, cluster_name: 'outbound|8080||api.default.svc.cluster.local',
    upstream_url: '127.0.0.1:1002', num_ejections: 1, enforced: true, eject_duration_ms: 30_000, reason: null, instance: 'web-v1-0',
  });
  const line = { instance: 'web-v1-0', container: 'sidecar' as const, stream: 'stdout' as const, text: '' };
  session.emit('log', { kind: 'outlier', entry: event('EJECT') }, line);
  const api = () => store.snapshot().services.find((s) => s.name === 'api')!.instances;
  t.deepEqual(api().map((i) => [i.id, i.state, i.ejected]), [['api-v1-0', 'ready', true], ['api-v2-0', 'killed', false]]);
  t.regex(store.snapshot().logs[0]!.text, /EJECTED api-v1-0 for 30s/);
  session.emit('log', { kind: 'outlier', entry: event('UNEJECT') }, line);
  t.false(api()[0]!.ejected);
});

test('rates and success come from the recent window; the graph gets the edges', (t) => {
  const session = fakeSession();
  const store = new UiStore(session, 'process');
  // The end of a second: the window's ten one-second slots then hold exactly these spans.
  const now = Math.floor(Date.now() / 1000) * 1000 + 999;
  const span = (kind: Span['kind'], service: string, status: number, endMs: number, extra: Record<string, string | number | boolean> = {}): Span => ({
    traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), parentSpanId: undefined, name: 'x', kind, startMs: endMs - 5, endMs, service,
    attributes: { [ATTR.status]: status, [ATTR.canonicalRevision]: 'v1', ...extra }, error: status >= 500,
  });
  for (let i = 0; i < 100; i++) {
    session.stats.add(span('server', 'api', i < 10 ? 503 : 200, now - i * 50), now);
    session.stats.add(span('client', 'web', i < 10 ? 503 : 200, now - i * 50, { [ATTR.final]: true, [ATTR.peerService]: 'api' }), now);
  }
  const snapshot = store.snapshot(now);
  const api = snapshot.services.find((s) => s.name === 'api')!;
  t.is(api.rps, 10, '100 requests in the last 10 s');
  t.is(api.successRate, 0.9);
  t.deepEqual(snapshot.edges.map((e) => [e.source, e.destination, e.rps, e.errorShare]), [['web', 'api', 10, 0.1]]);
  t.deepEqual(store.declaredEdges(), [['istio-ingressgateway', 'web'], ['web', 'api']]);
  t.is(snapshot.services.find((s) => s.name === 'web')!.successRate, null, 'no requests, no rate');
});

test('memory stays bounded under a long, heavy stream of spans', (t) => {
  const stats = new RequestStats(900);
  const traces = new TraceStore(3000, 20_000, 500);
  const start = 1_700_000_000_000;
  // An hour of 2,000 spans a second would take too long here; 200,000 spans over an
  // hour of simulated time exercise the same bounds.
  for (let i = 0; i < 200_000; i++) {
    const at = start + i * 18;
    const traceId = (i >> 2).toString(16).padStart(32, '0');
    const span: Span = { traceId, spanId: (i + 1).toString(16).padStart(16, '0'), parentSpanId: undefined, name: 'x', kind: 'server', startMs: at - 3, endMs: at, service: `svc${i % 8}`, attributes: { [ATTR.status]: 200, [ATTR.canonicalRevision]: 'v1' }, error: false };
    stats.add(span, at);
    traces.add(span, at);
    if (i % 1000 === 0) traces.tick(at);
  }
  const slots = [...(stats as unknown as { services: Map<string, Map<string, { slots: Map<number, unknown> }>> }).services.values()]
    .flatMap((versions) => [...versions.values()].map((series) => series.slots.size));
  t.true(Math.max(...slots) <= 900 + 61, `at most the retention in slots per series: ${Math.max(...slots)}`);
  t.true(traces.recent().length <= 500);
  t.is(stats.service('svc0', undefined, undefined, 3600).requests, 25_000, 'totals still count everything');
});

test('mesh-sim falling behind shows while it lasts, and goes once it keeps up', (t) => {
  const session = fakeSession();
  const store = new UiStore(session, 'process');
  t.is(store.snapshot().overload, undefined);
  session.emit('overload', 'overloaded', 'mesh-sim cannot keep up: node-0 was busy 99% of the last 2 s');
  t.regex(store.snapshot().overload ?? '', /node-0 was busy 99%/);
  t.deepEqual(store.snapshot().warnings, [], 'not a warning that stays after it passed');
  session.emit('overload', 'recovered', 'mesh-sim keeps up again, after 4 s of falling behind');
  t.is(store.snapshot().overload, undefined);
});
