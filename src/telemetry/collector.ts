// The collector's receiving end: OTLP/HTTP JSON on /v1/traces, as any OpenTelemetry
// exporter sends it (gzip or not). Spans go to whoever the mesh connects. Bounded:
// a request's body is limited before and after decompression (a gzip bomb stops at the
// limit), and so is the number of spans one export may carry.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip } from 'node:zlib';
import { readBounded, sendJson } from '../control/http.js';
import { decodeSpans, OtlpFormatError } from './otlp.js';
import type { Span } from './span.js';

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

/** Handles POST /v1/traces; false for other paths. */
export function handleTraces(req: IncomingMessage, res: ServerResponse, onSpans: (spans: Span[]) => void): boolean {
  const path = (req.url ?? '').split('?')[0];
  if (path !== '/v1/traces') return false;
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: 'POST OTLP/HTTP JSON spans here' });
    return true;
  }
  const type = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim();
  if (type !== 'application/json') {
    req.resume();
    sendJson(res, 415, { error: `${type} is not supported: send OTLP/HTTP JSON (application/json), e.g. @opentelemetry/exporter-trace-otlp-http` });
    return true;
  }
  void readBounded(req, MAX_EXPORT_BYTES).then(async ({ body: received, tooLarge }) => {
    if (tooLarge) {
      sendJson(res, 413, { error: `an export is at most ${MAX_EXPORT_BYTES} bytes` });
      return;
    }
    try {
      let body: Buffer = received;
      if (req.headers['content-encoding'] === 'gzip') {
        try {
          body = await inflateBounded(body, MAX_EXPORT_BYTES);
        } catch (error) {
          if (error instanceof InflatedTooLarge) {
            sendJson(res, 413, { error: error.message });
            return;
          }
          throw error;
        }
      }
      const decoded = decodeSpans(JSON.parse(body.toString('utf8')));
      const spans = decoded.spans.length > MAX_SPANS_PER_EXPORT ? decoded.spans.slice(0, MAX_SPANS_PER_EXPORT) : decoded.spans;
      const rejected = decoded.rejected + (decoded.spans.length - spans.length);
      onSpans(spans);
      sendJson(res, 200, rejected > 0
        ? { partialSuccess: { rejectedSpans: rejected, errorMessage: `spans without valid ids or times, or past ${MAX_SPANS_PER_EXPORT} in one export, were dropped` } }
        : {});
    } catch (error) {
      const message = error instanceof OtlpFormatError || error instanceof SyntaxError ? error.message : `cannot read export: ${(error as Error).message}`;
      sendJson(res, 400, { error: message });
    }
  }, () => res.destroy());
  return true;
}
