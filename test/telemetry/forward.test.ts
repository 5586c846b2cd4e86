// Forwarding spans out (--otlp-endpoint): batched and bounded apart from exporting; the
// exporter speaks OTLP/HTTP protobuf (the SDK's serializer) or JSON; a real receiver
// decodes every span with the OTLP message definitions (field numbers from the OTLP
// spec, written here); a collector that is down costs the run nothing.

import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';
import { BatchForwarder, MAX_BATCH, MAX_QUEUE } from '../../src/telemetry/forward/batch-forwarder.js';
import type { ExportResult, SpanExporter } from '../../src/telemetry/forward/exporter.js';
import { OtlpConfigError, OtlpHttpExporter, otlpOptionsFrom } from '../../src/telemetry/forward/otlp-http-exporter.js';
import { forwardingFrom } from '../../src/telemetry/forward/setup.js';
import type { Span } from '../../src/telemetry/span.js';
import { loadText, sleep } from '../helpers/mesh.js';

const span = (i: number, extra: Partial<Span> = {}): Span => ({
  traceId: i.toString(16).padStart(32, '0'), spanId: (i + 1).toString(16).padStart(16, '0'), parentSpanId: undefined, name: `GET /${i}`,
  kind: 'server', startMs: 1_700_000_000_000 + i, endMs: 1_700_000_000_010.5 + i, service: 'api', error: false,
  attributes: { 'http.response.status_code': 200, 'service.version': 'v1', 'service.instance.id': 'api-v1-0', 'mesh_sim.retry': false }, ...extra,
});

class FakeExporter implements SpanExporter {
  batches: number[] = [];
  constructor(private readonly answers: ExportResult[] = []) {}
  async export(spans: readonly Span[]): Promise<ExportResult> {
    this.batches.push(spans.length);
    return this.answers.shift() ?? { ok: true };
  }
  async shutdown(): Promise<void> {}
}

test('batches of at most 512; a full queue drops and counts, never blocks; shutdown sends the rest', async (t) => {
  const exporter = new FakeExporter();
  const forwarder = new BatchForwarder(exporter, async () => {});
  forwarder.add(Array.from({ length: MAX_QUEUE + 100 }, (_, i) => span(i)));
  t.is(forwarder.counts.dropped, 100);
  await forwarder.shutdown();
  t.true(exporter.batches.every((n) => n <= MAX_BATCH));
  t.is(exporter.batches.reduce((a, b) => a + b, 0), MAX_QUEUE);
  t.is(forwarder.counts.exported, MAX_QUEUE);
});

test('a retryable failure is retried with backoff; one that is not is dropped and counted', async (t) => {
  const waits: number[] = [];
  const flaky = new FakeExporter([{ ok: false, retryable: true, reason: 'HTTP 503' }, { ok: false, retryable: true, reason: 'HTTP 429' }]);
  const forwarder = new BatchForwarder(flaky, async (ms) => void waits.push(ms));
  forwarder.add([span(1), span(2)]);
  await forwarder.shutdown();
  t.deepEqual(flaky.batches, [2]);
  const retrying = new BatchForwarder(new FakeExporter([{ ok: false, retryable: true, reason: 'HTTP 503' }]), async (ms) => void waits.push(ms));
  retrying.add(Array.from({ length: MAX_BATCH }, (_, i) => span(i)));
  await sleep(50);
  await retrying.shutdown();
  t.is(retrying.counts.exported, MAX_BATCH, 'the second try went through');
  t.is(waits.length, 1);
  const refused = new BatchForwarder(new FakeExporter([{ ok: false, retryable: false, reason: 'HTTP 400' }]), async () => {});
  refused.add([span(1)]);
  await refused.shutdown();
  t.like(refused.counts, { exported: 0, dropped: 1, failedExports: 1, lastError: 'HTTP 400' });
});

test('the endpoint comes from --otlp-endpoint or OpenTelemetry\'s variables, as the SDK reads them', (t) => {
  t.is(otlpOptionsFrom(undefined, {}), undefined);
  t.like(otlpOptionsFrom('http://127.0.0.1:4318', {}), { url: 'http://127.0.0.1:4318/v1/traces', protocol: 'http/protobuf' });
  t.like(otlpOptionsFrom(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=a%20b,tenant=t1' }), {
    url: 'http://c:4318/v1/traces', protocol: 'http/json', headers: { 'x-api-key': 'a b', tenant: 't1' },
  });
  t.like(otlpOptionsFrom(undefined, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:9/custom', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored' }), { url: 'http://c:9/custom' });
  t.throws(() => otlpOptionsFrom('ftp://x', {}), { instanceOf: OtlpConfigError });
  t.throws(() => otlpOptionsFrom('http://x', { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), { instanceOf: OtlpConfigError, message: /gRPC is not supported/ });
});

// The OTLP trace messages, by the field numbers of opentelemetry/proto (trace/v1, common/v1, resource/v1).
const root = protobuf.Root.fromJSON({
  nested: {
    AnyValue: { oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue'] } }, fields: { stringValue: { type: 'string', id: 1 }, boolValue: { type: 'bool', id: 2 }, intValue: { type: 'int64', id: 3 }, doubleValue: { type: 'double', id: 4 } } },
    KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
    Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
    Scope: { fields: { name: { type: 'string', id: 1 }, version: { type: 'string', id: 2 } } },
    Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
    Span: {
      fields: {
        traceId: { type: 'bytes', id: 1 }, spanId: { type: 'bytes', id: 2 }, parentSpanId: { type: 'bytes', id: 4 }, name: { type: 'string', id: 5 },
        kind: { type: 'int32', id: 6 }, startTimeUnixNano: { type: 'fixed64', id: 7 }, endTimeUnixNano: { type: 'fixed64', id: 8 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 9 }, status: { type: 'Status', id: 15 },
      },
    },
    ScopeSpans: { fields: { scope: { type: 'Scope', id: 1 }, spans: { rule: 'repeated', type: 'Span', id: 2 } } },
    ResourceSpans: { fields: { resource: { type: 'Resource', id: 1 }, scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 } } },
    ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
  },
});
const Request = root.lookupType('ExportTraceServiceRequest');

interface Received {
  service: string;
  traceId: string;
  spanId: string;
  kind: number;
  startMs: number;
  attributes: Record<string, unknown>;
}

/** A real OTLP/HTTP receiver on loopback: protobuf or JSON, every span kept. */
async function receiver(status = 200): Promise<{ url: string; spans: Received[]; types: Set<string>; close: () => Promise<void> }> {
  const spans: Received[] = [];
  const types = new Set<string>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = req.headers['content-type'] ?? '';
      types.add(type);
      const body = Buffer.concat(chunks);
      const decoded = (type === 'application/json' ? JSON.parse(body.toString()) : Request.toObject(Request.decode(body), { longs: String, bytes: String })) as {
        resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: Record<string, unknown> }> }; scopeSpans: Array<{ spans: Array<Record<string, unknown>> }> }>;
      };
      for (const rs of decoded.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue as string;
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            const id = (v: unknown, n: number) => (typeof v === 'string' && v.length === n * 2 && /^[0-9a-f]+$/.test(v) ? v : Buffer.from(String(v), 'base64').toString('hex'));
            spans.push({
              service, traceId: id(s.traceId, 16), spanId: id(s.spanId, 8), kind: Number(s.kind), startMs: Number(BigInt(String(s.startTimeUnixNano)) / 1000n) / 1000,
              attributes: Object.fromEntries((s.attributes as Array<{ key: string; value: Record<string, unknown> }>).map((a) => [a.key, Object.values(a.value)[0]])),
            });
          }
        }
      }
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, spans, types, close: () => new Promise((r) => server.close(() => r())) };
}

test('the exporter sends what the SDK would: protobuf by default, JSON on request, ids, kinds, times and attributes intact', async (t) => {
  const rx = await receiver();
  t.teardown(() => rx.close());
  for (const protocol of ['http/protobuf', 'http/json'] as const) {
    const exporter = new OtlpHttpExporter({ url: `${rx.url}/v1/traces`, protocol, headers: { authorization: 'Bearer x' }, timeoutMs: 5000 });
    t.deepEqual(await exporter.export([span(1), span(2, { kind: 'client', service: 'web' })]), { ok: true });
  }
  t.deepEqual([...rx.types].sort(), ['application/json', 'application/x-protobuf']);
  t.is(rx.spans.length, 4);
  for (const got of [rx.spans[0]!, rx.spans[2]!]) {
    const sent = [span(1), span(2)].find((s) => s.traceId === got.traceId)!;
    t.is(got.spanId, sent.spanId);
    t.is(got.startMs, sent.startMs);
  }
  const first = rx.spans.find((s) => s.service === 'api')!;
  t.is(first.kind, 2, 'SERVER in OTLP\'s numbering');
  t.like(first.attributes, { 'mesh_sim.retry': false });
  t.is(rx.spans.find((s) => s.service === 'web')!.kind, 3, 'CLIENT');
  const refused = new OtlpHttpExporter({ url: 'http://127.0.0.1:9/v1/traces', protocol: 'http/protobuf', headers: {}, timeoutMs: 2000 });
  t.like(await refused.export([span(1)]), { ok: false, retryable: true });
});

const scenario = `
name: forward
seed: 4
services:
  web: {calls: [api]}
  api: {latency: 2ms}
traffic:
  - {to: web, rps: 30, arrival: uniform}
`;

test.serial('a live mesh forwards every span its collector takes to a real OTLP/HTTP receiver; a receiver that is down costs the run nothing', async (t) => {
  const rx = await receiver();
  t.teardown(() => rx.close());
  const forwarding = forwardingFrom(rx.url, {})!;
  const loaded = await loadText(scenario);
  const collected: Span[] = [];
  const { MeshSession } = await import('../../src/mesh/session.js');
  const { runtimeFactory } = await import('../../src/runtime/registry.js');
  const session = new MeshSession(loaded, { runtimeFactory: runtimeFactory('process'), seed: 4, forward: forwarding.forwarder });
  session.on('spans', (spans) => collected.push(...spans));
  await session.start();
  session.beginTraffic(3000);
  await sleep(3000);
  await session.finish();
  t.true(collected.length > 200, `${collected.length} spans`);
  t.is(forwarding.forwarder.counts.dropped, 0);
  t.is(rx.spans.length, collected.length, 'every span the collector took reached the receiver');
  const keys = new Set(rx.spans.map((s) => `${s.traceId}/${s.spanId}`));
  const missing = collected.filter((s) => !keys.has(`${s.traceId}/${s.spanId}`));
  t.deepEqual(missing.map((s) => `${s.traceId}/${s.spanId}`), [], 'the same spans, in whatever order the batches went');
  t.deepEqual([...new Set(rx.spans.map((s) => s.service))].sort(), ['api', 'istio-ingressgateway', 'web']);

  // Down: nothing listens there. The run is the same, and says what it could not send.
  const down = forwardingFrom('http://127.0.0.1:9', {})!;
  const again = new MeshSession(loaded, { runtimeFactory: runtimeFactory('process'), seed: 4, forward: down.forwarder });
  await again.start();
  again.beginTraffic(3000);
  await sleep(3000);
  // The forwarder gives up within its bound at shutdown; the test's timeout would catch a hang.
  await again.finish();
  t.true(down.forwarder.counts.dropped > 200);
  t.is(down.forwarder.counts.exported, 0);
  t.is(again.traffic!.counts.unanswered, 0);
  t.true(again.traffic!.counts.answered > 80);
});

test.serial('--jaeger: once Jaeger runs beside the mesh, every span from then on reaches its OTLP/HTTP receiver', async (t) => {
  const rx = await receiver();
  t.teardown(() => rx.close());
  const { MeshSession } = await import('../../src/mesh/session.js');
  const { runtimeFactory } = await import('../../src/runtime/registry.js');
  const session = new MeshSession(await loadText(scenario), { runtimeFactory: runtimeFactory('process'), seed: 4 });
  // The Docker runtime's Jaeger, as it reports itself (test/runtime/jaeger checks that part on a Docker client).
  session.runtime.startObservability = async () => ({ prometheus: undefined, grafana: undefined, jaeger: { ui: 'http://127.0.0.1:16686', otlp: rx.url }, notes: [] });
  const collected: Span[] = [];
  session.on('spans', (spans) => collected.push(...spans));
  await session.start();
  await session.startObservability(5, true);
  session.beginTraffic(2500);
  await sleep(2500);
  await session.finish();
  t.true(collected.length > 150, `${collected.length} spans`);
  t.is(session.jaegerForward!.url, `${rx.url}/v1/traces`);
  t.is(session.jaegerForward!.forwarder.counts.dropped, 0);
  t.is(rx.spans.length, collected.length, 'Jaeger got every span the collector took');
});
