// The hub's one port speaks HTTP/1.1 and cleartext HTTP/2 (for OTLP over gRPC), told
// apart by a connection's first bytes; the gRPC end refuses what it cannot take with
// gRPC's own statuses, and holds nothing it should not.
import test from 'ava';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { Hub } from '../../src/mesh/hub.js';
import { authorization } from '../../src/control/http.js';
import { ControlPlane } from '../../src/control/plane.js';
import { emptyMeshConfig } from '../../src/policy/config.js';
import { EXPORT_METHOD } from '../../src/telemetry/collector-grpc.js';
import { GrpcStatus } from '../../src/telemetry/otlp-proto.js';
import { dispatchByVersion } from '../../src/mesh/both-http-versions.js';
import { MAX_EXPORT_BYTES } from '../../src/telemetry/collector.js';
import type { Span } from '../../src/telemetry/span.js';

async function hub(): Promise<{ hub: Hub; port: number; received: Span[] }> {
  const received: Span[] = [];
  const h = new Hub(new ControlPlane({ services: [], config: emptyMeshConfig() }, 1), () => undefined, (spans) => received.push(...spans));
  return { hub: h, port: await h.listen(['127.0.0.1']), received };
}

async function oneSpan(): Promise<Uint8Array> {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.getTracer('t').startSpan('work').end();
  await provider.forceFlush();
  const body = ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans())!;
  await provider.shutdown();
  return body;
}

const framed = (message: Uint8Array, compressed = false) => {
  const out = Buffer.alloc(5 + message.length);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
};

/** One unary call by hand; resolves with the gRPC status and message from the trailers (or trailers-only headers). */
function call(port: number, body: Buffer, headers: http2.OutgoingHttpHeaders): Promise<{ status: number; message: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request({ ':method': 'POST', ':path': EXPORT_METHOD, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let found: { status: number; message: string } | undefined;
    const look = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) found = { status: Number(h['grpc-status']), message: decodeURIComponent(String(h['grpc-message'] ?? '')) };
    };
    stream.on('response', look);
    stream.on('trailers', look);
    stream.resume();
    stream.on('close', () => {
      session.close();
      if (found) resolve(found);
      else reject(new Error('no grpc-status'));
    });
    stream.end(body);
  });
}

test('HTTP/1.1 and HTTP/2 on one port: pipelined requests, a body in many chunks, a first chunk of one byte', async (t) => {
  const { hub: h, port } = await hub();
  t.teardown(() => h.close());
  // Two pipelined requests on one connection: both answered, in order.
  const raw = net.connect(port, '127.0.0.1');
  let text = '';
  raw.on('data', (d: Buffer) => (text += d.toString('latin1')));
  const secret = authorization(h.secret);
  raw.write(`GET /nowhere HTTP/1.1\r\nHost: x\r\nAuthorization: ${secret}\r\n\r\nGET /v1/traces HTTP/1.1\r\nHost: x\r\nAuthorization: ${secret}\r\n\r\n`);
  for (let i = 0; i < 100 && (text.match(/HTTP\/1\.1 /g) ?? []).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  t.deepEqual(text.match(/HTTP\/1\.1 \d+/g), ['HTTP/1.1 404', 'HTTP/1.1 405']);
  raw.destroy();
  // "P" alone could begin HTTP/2's preface or a POST: the hub waits for the next byte.
  const slow = net.connect(port, '127.0.0.1');
  let slowText = '';
  slow.on('data', (d: Buffer) => (slowText += d.toString('latin1')));
  slow.write('P');
  await new Promise((r) => setTimeout(r, 50));
  slow.write(`OST /v1/traces HTTP/1.1\r\nHost: x\r\nAuthorization: ${secret}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`);
  for (let i = 0; i < 100 && !slowText.includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 10));
  t.regex(slowText, /^HTTP\/1\.1 400/, 'read as HTTP/1.1: {} is no export');
  slow.destroy();
  // A large body over HTTP/1.1 arrives whole.
  const big = await new Promise<number>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/traces', headers: { authorization: secret, 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ resourceSpans: [], pad: 'x'.repeat(3_000_000) }));
  });
  t.is(big, 200);
  // HTTP/2 on the same port.
  t.like(await call(port, framed(await oneSpan()), { authorization: secret }), { status: GrpcStatus.OK });
});

test('the gRPC end answers with gRPC statuses: no secret, another method, a broken frame, an unknown compression, too large', async (t) => {
  const { hub: h, port, received } = await hub();
  t.teardown(() => h.close());
  const secret = authorization(h.secret);
  const message = await oneSpan();
  t.like(await call(port, framed(message), { authorization: 'Bearer wrong' }), { status: GrpcStatus.UNAUTHENTICATED });
  t.like(await call(port, framed(message), { authorization: secret, ':path': '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export' }), { status: GrpcStatus.UNIMPLEMENTED });
  t.like(await call(port, framed(message).subarray(0, 10), { authorization: secret }), { status: GrpcStatus.INVALID_ARGUMENT });
  t.like(await call(port, framed(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f])), { authorization: secret }), { status: GrpcStatus.INVALID_ARGUMENT });
  const snappy = await call(port, framed(message, true), { authorization: secret, 'grpc-encoding': 'snappy' });
  t.is(snappy.status, GrpcStatus.INVALID_ARGUMENT);
  t.regex(snappy.message, /snappy.*gzip or none/);
  t.like(await call(port, framed(Buffer.alloc(MAX_EXPORT_BYTES + 1)), { authorization: secret }), { status: GrpcStatus.RESOURCE_EXHAUSTED });
  const bomb = gzipSync(Buffer.alloc(MAX_EXPORT_BYTES * 2));
  t.like(await call(port, framed(bomb, true), { authorization: secret, 'grpc-encoding': 'gzip' }), { status: GrpcStatus.RESOURCE_EXHAUSTED });
  t.is(received.length, 0, 'nothing refused was taken');
  t.like(await call(port, framed(gzipSync(message), true), { authorization: secret, 'grpc-encoding': 'gzip' }), { status: GrpcStatus.OK });
  t.is(received.length, 1);
  t.is(received[0]!.name, 'work');
});

test('a connection that says nothing is closed after a while; one that speaks is not', async (t) => {
  const web = http.createServer((req, res) => res.end('ok'));
  const server = net.createServer(dispatchByVersion(web, http2.createServer(), 200));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const silent = net.connect(port, '127.0.0.1');
  const closedAt = await new Promise<number>((resolve) => silent.on('close', () => resolve(Date.now())));
  t.truthy(closedAt);
  const talker = net.connect(port, '127.0.0.1');
  let text = '';
  talker.on('data', (d: Buffer) => (text += d.toString('latin1')));
  talker.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((r) => setTimeout(r, 500));
  t.false(talker.destroyed, 'past the first-byte timeout, a kept-alive connection stays');
  t.regex(text, /^HTTP\/1\.1 200/);
  talker.destroy();
});
