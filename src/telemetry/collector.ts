// The collector's receiving end: OTLP/HTTP on /v1/traces, binary Protobuf or JSON, as
// any OpenTelemetry exporter sends it (gzip or not), answered in the encoding it came
// in. Spans go to whoever the mesh connects. Bounded: a request's body is limited
// before and after decompression (a gzip bomb stops at the limit), and so is the
// number of spans one export may carry.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip } from 'node:zlib';
import { readBounded, sendJson } from '../control/http.js';
import { decodeSpans, OtlpFormatError } from './otlp.js';
import type { Span } from './span.js';
import { GrpcStatus, ProtobufFormatError, readExportRequest, writeExportResponse, writeRpcStatus } from './otlp-proto.js';

export const MAX_EXPORT_BYTES = 8 * 1024 * 1024;
/** The most spans one export request may carry; the OpenTelemetry SDK sends 512 at a time. */
export const MAX_SPANS_PER_EXPORT = 10_000;

/** An inflated body passed its limit; `inflated` says how far inflation went before it stopped. */
export class InflatedTooLarge extends Error {
  constructor(readonly limit: number, readonly inflated: number) {
    super(`an export is at most ${limit} bytes, uncompressed`);
  }
}

/**
 * Gunzips `body`, stopping as soon as the output passes `limit`: the stream is torn
 * down there, so a bomb costs at most the limit plus one chunk, never its full size.
 */
export function inflateBounded(body: Buffer, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const gunzip = createGunzip();
    const chunks: Buffer[] = [];
    let inflated = 0;
    gunzip.on('data', (chunk: Buffer) => {
      inflated += chunk.length;
      if (inflated > limit) {
        gunzip.destroy();
        reject(new InflatedTooLarge(limit, inflated));
        return;
      }
      chunks.push(chunk);
    });
    gunzip.on('error', reject);
    gunzip.on('end', () => resolve(Buffer.concat(chunks)));
    gunzip.end(body);
  });
}

/**
 * Takes one export request (in OTLP's JSON mapping, whichever encoding it came in):
 * its spans to `onSpans`, at most MAX_SPANS_PER_EXPORT; says how many were dropped and
 * why, for OTLP's partial success. Throws OtlpFormatError when it is no export at all.
 */
export function takeExport(request: unknown, onSpans: (spans: Span[]) => void): { rejected: number; why: string } {
  const decoded = decodeSpans(request);
  const spans = decoded.spans.length > MAX_SPANS_PER_EXPORT ? decoded.spans.slice(0, MAX_SPANS_PER_EXPORT) : decoded.spans;
  onSpans(spans);
  return {
    rejected: decoded.rejected + (decoded.spans.length - spans.length),
    why: `spans without valid ids or times, or past ${MAX_SPANS_PER_EXPORT} in one export, were dropped`,
  };
}

/** What the sender reads when its export could not be read. */
export function exportError(error: unknown): string {
  const known = error instanceof OtlpFormatError || error instanceof SyntaxError || error instanceof ProtobufFormatError;
  return known ? (error as Error).message : `cannot read export: ${(error as Error).message}`;
}

/** How one OTLP encoding reads an export and answers it: JSON or binary Protobuf, as the request came. */
interface OtlpEncoding {
  /** The export request in OTLP's JSON mapping, for decodeSpans. */
  read(body: Buffer): unknown;
  /** 200, with the number of spans dropped and why (OTLP's partial success). */
  accept(res: ServerResponse, rejected: number, why: string): void;
  /** An HTTP status and OTLP's error body (google.rpc.Status for Protobuf). */
  refuse(res: ServerResponse, status: number, message: string): void;
}

const PROTOBUF = 'application/x-protobuf';
/** gRPC's codes for the statuses the collector answers with, as OTLP/HTTP's Status carries them. */
const RPC_CODE: Record<number, number> = {
  400: GrpcStatus.INVALID_ARGUMENT, 405: GrpcStatus.UNIMPLEMENTED, 413: GrpcStatus.RESOURCE_EXHAUSTED, 415: GrpcStatus.INVALID_ARGUMENT,
};

const ENCODINGS: Record<string, OtlpEncoding> = {
  'application/json': {
    read: (body) => JSON.parse(body.toString('utf8')),
    accept: (res, rejected, why) => sendJson(res, 200, rejected > 0 ? { partialSuccess: { rejectedSpans: rejected, errorMessage: why } } : {}),
    refuse: (res, status, message) => sendJson(res, status, { error: message }),
  },
  [PROTOBUF]: {
    read: readExportRequest,
    accept: (res, rejected, why) => sendProtobuf(res, 200, writeExportResponse(rejected, why)),
    refuse: (res, status, message) => sendProtobuf(res, status, writeRpcStatus(RPC_CODE[status] ?? GrpcStatus.UNKNOWN, message)),
  },
};

function sendProtobuf(res: ServerResponse, status: number, body: Uint8Array): void {
  res.writeHead(status, { 'content-type': PROTOBUF, 'content-length': body.length }).end(body);
}

/** Handles POST /v1/traces; false for other paths. */
export function handleTraces(req: IncomingMessage, res: ServerResponse, onSpans: (spans: Span[]) => void): boolean {
  const path = (req.url ?? '').split('?')[0];
  if (path !== '/v1/traces') return false;
  const type = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  const encoding = ENCODINGS[type];
  if (req.method !== 'POST') {
    req.resume();
    (encoding ?? ENCODINGS['application/json']!).refuse(res, 405, 'POST OTLP/HTTP spans here (JSON or Protobuf)');
    return true;
  }
  if (!encoding) {
    req.resume();
    sendJson(res, 415, { error: `${type} is not supported: send OTLP/HTTP as application/x-protobuf or application/json, as OpenTelemetry's exporters do` });
    return true;
  }
  void readBounded(req, MAX_EXPORT_BYTES).then(async ({ body: received, tooLarge }) => {
    if (tooLarge) {
      encoding.refuse(res, 413, `an export is at most ${MAX_EXPORT_BYTES} bytes`);
      return;
    }
    try {
      let body: Buffer = received;
      if (req.headers['content-encoding'] === 'gzip') {
        try {
          body = await inflateBounded(body, MAX_EXPORT_BYTES);
        } catch (error) {
          if (error instanceof InflatedTooLarge) {
            encoding.refuse(res, 413, error.message);
            return;
          }
          throw error;
        }
      }
      const { rejected, why } = takeExport(encoding.read(body), onSpans);
      encoding.accept(res, rejected, why);
    } catch (error) {
      encoding.refuse(res, 400, exportError(error));
    }
  }, () => res.destroy());
  return true;
}
