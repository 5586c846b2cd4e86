// The collector's gRPC end: OTLP's TraceService/Export, as an SDK sends spans when its
// protocol is grpc (Go's otlptracegrpc, Python's and Java's gRPC exporters). A unary
// call over HTTP/2: one length-prefixed Protobuf message in (gzip if the SDK compresses),
// one out, the status in trailers. Bounded as the HTTP end is, and the same spans come
// out (takeExport); every answer goes through answer() or refuse().

import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { exportError, inflateBounded, InflatedTooLarge, MAX_EXPORT_BYTES, takeExport } from './collector.js';
import { GrpcStatus, readExportRequest, writeExportResponse } from './otlp-proto.js';
import type { Span } from './span.js';

export const EXPORT_METHOD = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/** A gRPC message's prefix: a compressed flag and the length, big-endian. */
const PREFIX_BYTES = 5;

/** Handles one HTTP/2 stream as a gRPC call; `authorized` says whether it carried the run's secret. */
export function handleGrpcExport(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, authorized: boolean, onSpans: (spans: Span[]) => void): void {
  stream.on('error', () => {});
  if (!authorized) return refuse(stream, GrpcStatus.UNAUTHENTICATED, "this run's collector takes spans only from what the run started (authorization: Bearer, in OTEL_EXPORTER_OTLP_HEADERS)");
  if (headers[':method'] !== 'POST' || headers[':path'] !== EXPORT_METHOD) {
    return refuse(stream, GrpcStatus.UNIMPLEMENTED, `mesh-sim's collector serves ${EXPORT_METHOD} only`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_EXPORT_BYTES + PREFIX_BYTES) chunks.push(chunk);
  });
  stream.on('end', () => {
    if (size > MAX_EXPORT_BYTES + PREFIX_BYTES) return refuse(stream, GrpcStatus.RESOURCE_EXHAUSTED, `an export is at most ${MAX_EXPORT_BYTES} bytes`);
    void take(Buffer.concat(chunks), headers['grpc-encoding'], onSpans).then(
      (reply) => (typeof reply === 'string' ? refuse(stream, GrpcStatus.INVALID_ARGUMENT, reply) : answer(stream, reply)),
      (error: unknown) => refuse(stream, error instanceof InflatedTooLarge ? GrpcStatus.RESOURCE_EXHAUSTED : GrpcStatus.INVALID_ARGUMENT, exportError(error)),
    );
  });
}

/** The call's one message, taken: the response to send, or why the request is invalid. */
async function take(body: Buffer, encoding: string | string[] | undefined, onSpans: (spans: Span[]) => void): Promise<Uint8Array | string> {
  if (body.length < PREFIX_BYTES || body.readUInt32BE(1) !== body.length - PREFIX_BYTES) return 'expected one length-prefixed gRPC message';
  let message = body.subarray(PREFIX_BYTES);
  if (body[0] === 1) {
    if (encoding !== 'gzip') return `messages compressed with ${String(encoding ?? 'nothing named')} are not supported: gzip or none`;
    message = await inflateBounded(message, MAX_EXPORT_BYTES);
  }
  const { rejected, why } = takeExport(readExportRequest(message), onSpans);
  return writeExportResponse(rejected, why);
}

function answer(stream: ServerHttp2Stream, response: Uint8Array): void {
  if (stream.destroyed) return;
  const framed = Buffer.alloc(PREFIX_BYTES + response.length);
  framed.writeUInt32BE(response.length, 1);
  framed.set(response, PREFIX_BYTES);
  stream.respond({ ':status': 200, 'content-type': 'application/grpc+proto' }, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(GrpcStatus.OK) }));
  stream.end(framed);
}

/** A trailers-only answer: the status and its message (percent-encoded, as gRPC carries it). */
function refuse(stream: ServerHttp2Stream, code: number, message: string): void {
  if (stream.destroyed) return;
  stream.resume();
  stream.respond({ ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-status': String(code), 'grpc-message': encodeURIComponent(message) }, { endStream: true });
}
