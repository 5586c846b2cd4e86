// The collector reads OTLP/HTTP's binary Protobuf as it reads JSON: the same spans, from
// OpenTelemetry's own serializers, decode to the same thing either way; and it answers
// a Protobuf export in Protobuf (partial success, google.rpc.Status), as the spec asks.
import test from 'ava';
import { gzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { Hub } from '../../src/mesh/hub.js';
import { authorization } from '../../src/control/http.js';
import { ControlPlane } from '../../src/control/plane.js';
import { emptyMeshConfig } from '../../src/policy/config.js';
import type { Span } from '../../src/telemetry/span.js';

async function hub(): Promise<{ hub: Hub; url: string; received: Span[] }> {
  const received: Span[] = [];
  const h = new Hub(new ControlPlane({ services: [], config: emptyMeshConfig() }, 1), () => undefined, (spans) => received.push(...spans));
  const port = await h.listen(['127.0.0.1']);
  return { hub: h, url: `http://127.0.0.1:${port}`, received };
}

/** Spans as an application's SDK makes them: a server span with a client child, attributes of every kind, one an error. */
async function sdkSpans() {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.version': '2.1' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('test');
  tracer.startActiveSpan('GET /cart', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'GET', 'http.response.status_code': 200, ratio: 0.25, cached: true, tags: ['a', 'b'] } }, (server) => {
    const client = tracer.startSpan('SELECT cart', { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql' } }, trace.setSpan(context.active(), server));
    client.setStatus({ code: SpanStatusCode.ERROR, message: 'timeout' });
    client.end();
    server.end();
  });
  await provider.forceFlush();
  const spans = exporter.getFinishedSpans();
  await provider.shutdown();
  return spans;
}

const post = (url: string, secret: string, type: string, body: Uint8Array, extra: Record<string, string> = {}) =>
  fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': type, authorization: authorization(secret), ...extra }, body });

// The answers, by the field numbers of opentelemetry-proto's collector/trace/v1 and google.rpc.Status.
const answers = protobuf.Root.fromJSON({
  nested: {
    Partial: { fields: { rejectedSpans: { type: 'int64', id: 1 }, errorMessage: { type: 'string', id: 2 } } },
    Response: { fields: { partialSuccess: { type: 'Partial', id: 1 } } },
    Status: { fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 } } },
  },
});
const decodeAnswer = (name: string, body: ArrayBuffer) => answers.lookupType(name).toObject(answers.lookupType(name).decode(new Uint8Array(body)), { longs: Number });

test("the same spans in Protobuf and in JSON, from OpenTelemetry's serializers, decode to the same spans", async (t) => {
  const { hub: h, url, received } = await hub();
  t.teardown(() => h.close());
  const spans = await sdkSpans();
  const viaJson = await post(url, h.secret, 'application/json', JsonTraceSerializer.serializeRequest(spans)!);
  t.is(viaJson.status, 200);
  const fromJson = received.splice(0);
  const viaProtobuf = await post(url, h.secret, 'application/x-protobuf', ProtobufTraceSerializer.serializeRequest(spans)!);
  t.is(viaProtobuf.status, 200);
  t.is(viaProtobuf.headers.get('content-type'), 'application/x-protobuf', 'answered in the encoding it came in');
  t.deepEqual(decodeAnswer('Response', await viaProtobuf.arrayBuffer()), {}, 'full success: an empty ExportTraceServiceResponse');
  const fromProtobuf = received.splice(0);
  t.is(fromProtobuf.length, 2);
  t.deepEqual(fromProtobuf, fromJson);
  const server = fromProtobuf.find((s) => s.kind === 'server')!;
  const client = fromProtobuf.find((s) => s.kind === 'client')!;
  t.is(server.service, 'checkout');
  t.is(client.parentSpanId, server.spanId);
  t.is(client.traceId, spans[0]!.spanContext().traceId);
  t.true(client.error);
  t.false(server.error);
  t.like(server.attributes, { 'http.request.method': 'GET', 'http.response.status_code': 200, ratio: 0.25, cached: true, tags: '["a","b"]', 'service.version': '2.1' });
  t.true(Math.abs(server.startMs - spans.find((s) => s.kind === SpanKind.SERVER)!.startTime[0] * 1000) < 1000);
});

test('a Protobuf export is answered in Protobuf: gzip read, bad spans counted as a partial success, a bad body as google.rpc.Status', async (t) => {
  const { hub: h, url, received } = await hub();
  t.teardown(() => h.close());
  const spans = await sdkSpans();
  const zipped = await post(url, h.secret, 'application/x-protobuf', gzipSync(ProtobufTraceSerializer.serializeRequest(spans)!), { 'content-encoding': 'gzip' });
  t.is(zipped.status, 200);
  t.is(received.splice(0).length, 2);

  // A span whose trace id is 3 bytes: field 1 of Span, inside ScopeSpans (2), ResourceSpans (2), the request (1).
  const bad = Uint8Array.from([0x0a, 0x0b, 0x12, 0x09, 0x12, 0x07, 0x0a, 0x03, 1, 2, 3, 0x12, 0x00]);
  const partial = await post(url, h.secret, 'application/x-protobuf', bad);
  t.is(partial.status, 200);
  t.like(decodeAnswer('Response', await partial.arrayBuffer()), { partialSuccess: { rejectedSpans: 1 } });
  t.is(received.length, 0);

  const garbage = await post(url, h.secret, 'application/x-protobuf', Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0x0f]));
  t.is(garbage.status, 400);
  const status = decodeAnswer('Status', await garbage.arrayBuffer()) as { code: number; message: string };
  t.is(status.code, 3, 'INVALID_ARGUMENT');
  t.regex(status.message, /ExportTraceServiceRequest/);

  const other = await post(url, h.secret, 'application/x-thrift', Uint8Array.from([1]));
  t.is(other.status, 415);
  t.regex(await other.text(), /application\/x-protobuf or application\/json/);
});
