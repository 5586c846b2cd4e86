// Recorded data for the UI's tests: a Bookinfo snapshot mid-run, with a failing edge,
// an ejected instance, a killed one, access logs of every kind, and a trace with a
// retry and a fault.

import type { UiSnapshot } from '../../src/tui/store.js';
import { traceRow, type LogRow, type ServiceRow } from '../../src/tui/model.js';
import { ATTR, type Span } from '../../src/telemetry/span.js';
import { analyseTrace } from '../../src/telemetry/traces.js';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const t0 = Date.UTC(2026, 10, 25, 10, 0, 0);

function span(id: number, parent: number | undefined, service: string, kind: Span['kind'], start: number, end: number, attributes: Record<string, string | number | boolean>): Span {
  const hex = (n: number) => n.toString(16).padStart(16, '0');
  return {
    traceId: T, spanId: hex(id), parentSpanId: parent === undefined ? undefined : hex(parent), name: `${service}`, kind,
    startMs: t0 + start, endMs: t0 + end, service, attributes, error: Number(attributes[ATTR.status] ?? 200) >= 500,
  };
}

/** gateway → productpage → reviews (first try 503 UF, retried to v2) → ratings (delayed, DI) */
export const recordedTrace: Span[] = [
  span(1, undefined, 'istio-ingressgateway', 'client', 0, 1290, { [ATTR.peerService]: 'productpage', [ATTR.method]: 'GET', [ATTR.path]: '/productpage', [ATTR.status]: 200, [ATTR.attempt]: 1, [ATTR.destinationVersion]: 'v1' }),
  span(2, 1, 'productpage', 'server', 2, 1288, { [ATTR.method]: 'GET', [ATTR.path]: '/productpage', [ATTR.status]: 200, [ATTR.canonicalRevision]: 'v1' }),
  span(3, 2, 'productpage', 'client', 10, 12, { [ATTR.peerService]: 'reviews', [ATTR.status]: 503, [ATTR.responseFlags]: 'UF', [ATTR.attempt]: 1, [ATTR.destinationVersion]: 'v1' }),
  span(4, 2, 'productpage', 'client', 30, 1280, { [ATTR.peerService]: 'reviews', [ATTR.status]: 200, [ATTR.attempt]: 2, [ATTR.retry]: true, [ATTR.destinationVersion]: 'v2', [ATTR.rule]: 'scenarios/bookinfo.yaml:41' }),
  span(5, 4, 'reviews', 'server', 32, 1278, { [ATTR.method]: 'GET', [ATTR.path]: '/reviews/0', [ATTR.status]: 200, [ATTR.canonicalRevision]: 'v2' }),
  span(6, 5, 'reviews', 'client', 40, 1270, { [ATTR.peerService]: 'ratings', [ATTR.status]: 200, [ATTR.attempt]: 1, [ATTR.responseFlags]: 'DI', [ATTR.fault]: 'delay', [ATTR.rule]: 'scenarios/bookinfo.yaml:64', [ATTR.ruleName]: 'VirtualService ratings http[0].fault.delay', [ATTR.destinationVersion]: 'v1' }),
  span(7, 6, 'ratings', 'server', 1245, 1265, { [ATTR.method]: 'GET', [ATTR.path]: '/ratings/0', [ATTR.status]: 200, [ATTR.canonicalRevision]: 'v1' }),
];

const failedTrace: Span[] = [
  { ...recordedTrace[0]!, traceId: 'f'.repeat(32), attributes: { ...recordedTrace[0]!.attributes, [ATTR.status]: 503, [ATTR.responseFlags]: 'FI', [ATTR.fault]: 'abort', [ATTR.rule]: 'scenarios/x.yaml:9', [ATTR.attempt]: 0 }, error: true, endMs: t0 + 3 },
];

const service = (name: string, versions: string[], rps: number, successRate: number | null, p99: number | null, extra: Partial<ServiceRow> = {}): ServiceRow => ({
  name,
  versions,
  instances: versions.map((v) => ({ id: `${name}-${v}-0`, version: v, state: 'ready', ejected: false })),
  rps,
  successRate,
  p50Ms: p99 === null ? null : p99 / 4,
  p90Ms: p99 === null ? null : p99 / 2,
  p99Ms: p99,
  rpsHistory: Array.from({ length: 30 }, (_, i) => (i < 10 ? 0 : (rps * (i - 9)) / 20)),
  ...extra,
});

const log = (instance: string, service: string, text: string, extra: Partial<LogRow> = {}): LogRow => ({ at: t0, instance, service, kind: 'access', text, ...extra });

export function recordedSnapshot(): UiSnapshot {
  return {
    scenario: 'bookinfo',
    description: "Istio's Bookinfo, simulated.",
    seed: 42,
    runtime: 'process',
    phase: 'running',
    message: undefined,
    startup: [],
    services: [
      service('productpage', ['v1'], 24, 0.996, 1290),
      service('details', ['v1'], 24, 1, 8),
      service('reviews', ['v1', 'v2', 'v3'], 24, 0.9, 40, {
        instances: [
          { id: 'reviews-v1-0', version: 'v1', state: 'ready', ejected: true },
          { id: 'reviews-v2-0', version: 'v2', state: 'ready', ejected: false },
          { id: 'reviews-v3-0', version: 'v3', state: 'killed', ejected: false },
        ],
      }),
      service('ratings', ['v1'], 0, null, null),
    ],
    edges: [
      { source: 'istio-ingressgateway', destination: 'productpage', rps: 24, errorShare: 0.004, mtls: true },
      { source: 'productpage', destination: 'details', rps: 24, errorShare: 0, mtls: true },
      { source: 'productpage', destination: 'reviews', rps: 24, errorShare: 0.12, mtls: false },
    ],
    versionedEdges: [
      { source: 'istio-ingressgateway', destination: 'productpage v1', rps: 24, errorShare: 0.004, mtls: true },
      { source: 'productpage v1', destination: 'details v1', rps: 24, errorShare: 0, mtls: true },
      { source: 'productpage v1', destination: 'reviews v1', rps: 8, errorShare: 0, mtls: true },
      { source: 'productpage v1', destination: 'reviews v2', rps: 8, errorShare: 0.36, mtls: true },
      { source: 'productpage v1', destination: 'reviews v3', rps: 8, errorShare: 0, mtls: true },
      { source: 'reviews v2', destination: 'ratings v1', rps: 8, errorShare: 0, mtls: true },
    ],
    totals: { rps: 24, successRate: 0.996 },
    traces: [analyseTrace(recordedTrace), analyseTrace(failedTrace)].map(traceRow),
    timeline: {
      elapsedMs: 65_000,
      durationMs: 120_000,
      items: [
        { atMs: 0, label: '0:00  “Bookinfo is up.”', done: true },
        { atMs: 60_000, label: '1:00  “Fault injection”; set mesh', done: true },
        { atMs: 80_000, label: '1:20  check p99(productpage) > 500ms', done: false },
      ],
      narration: { text: "Fault injection: ratings answers Jason's pages 800 ms late. Watch p99 at productpage climb.", atMs: 60_000 },
      next: { atMs: 80_000, label: '1:20  check p99(productpage) > 500ms', done: false },
      checks: [{ expr: 'requests(ratings) < 5', at: '40s', ok: true, value: 0 }, { expr: 'rps(ratings) > 10', at: '60s', ok: false, value: 4.2 }],
    },
    logs: [
      log('productpage-v1-0', 'productpage', '→ reviews 503 UF GET /reviews/0 2ms', { status: 503, flags: ['UF'], durationMs: 2, reporter: 'source', destination: 'reviews' }),
      log('reviews-v2-0', 'reviews', '200 GET /reviews/0 1250ms', { status: 200, flags: [], durationMs: 1250, reporter: 'destination' }),
      log('reviews-v1-0', 'reviews', '→ ratings 503 UO GET /ratings/0 0ms', { status: 503, flags: ['UO'], durationMs: 0, reporter: 'source', destination: 'ratings' }),
      log('details-v1-0', 'details', '200 GET /details/0 3ms', { status: 200, flags: [], durationMs: 3, reporter: 'destination' }),
      { at: t0, instance: 'productpage-v1-0', service: 'productpage', kind: 'outlier', text: 'outlier detection: EJECTED reviews-v1-0 for 30s (ejection 1)' },
    ],
    logCount: 5,
    ingress: 'http://127.0.0.1:15001',
    entry: "curl -H 'Host: productpage' http://127.0.0.1:15001/productpage",
    prometheus: 'http://127.0.0.1:9090',
    grafana: undefined,
    observabilityNotes: ['Grafana not started: cannot pull grafana/grafana:10.4.2 (offline)'],
    warnings: [],
    overload: undefined,
    problems: [],
    file: 'scenarios/bookinfo.yaml',
    config: {
      version: 4,
      resources: [
        {
          kind: 'VirtualService', name: 'reviews', where: 'scenarios/bookinfo.yaml:61', shorthand: true,
          lines: [
            { text: 'reviews http[0] end-user=jason → reviews v2', share: 0.17, rps: 4, where: 'scenarios/bookinfo.yaml:62' },
            { text: 'reviews http[1] all → reviews v1', share: 0.83, rps: 20, where: 'scenarios/bookinfo.yaml:64' },
          ],
        },
        { kind: 'DestinationRule', name: 'reviews', where: 'scenarios/bookinfo.yaml:61', shorthand: true, lines: [{ text: 'subsets v1(version=v1) v2(version=v2) v3(version=v3)', share: null, rps: null, where: undefined }] },
      ],
      unrouted: [{ host: 'details', rps: 24 }],
    },
  };
}

export function recordedSource(snapshot = recordedSnapshot()) {
  return {
    snapshot: () => snapshot,
    spansOf: (traceId: string) => (traceId === T ? recordedTrace : traceId === 'f'.repeat(32) ? failedTrace : undefined),
    declaredEdges: (): ReadonlyArray<[string, string]> => [['istio-ingressgateway', 'productpage'], ['productpage', 'details'], ['productpage', 'reviews'], ['reviews', 'ratings']],
  };
}

export const TRACE_ID = T;
