// What mesh-sim does with HTTP in several places: answer with JSON (the hub's control
// plane, CA and collector), read a request body no larger than a limit (the rest is
// drained, not kept: the hub's endpoints and a sidecar's retry buffer), so no caller
// can make them hold more, name the run's secret to the hub, and ask the hub with it.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';

/** How a request to the hub names the run's secret: `Authorization: Bearer SECRET`, as OTLP exporters send headers. */
export function authorization(secret: string): string {
  return `Bearer ${secret}`;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The whole body, or `tooLarge` once it passed `limit` bytes. */
export function readBounded(req: IncomingMessage, limit: number): Promise<{ body: Buffer; tooLarge: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve({ body: size > limit ? Buffer.alloc(0) : Buffer.concat(chunks), tooLarge: size > limit }));
    req.on('error', reject);
  });
}

/**
 * POSTs `body` as JSON to the hub with the run's secret; resolves with the status and
 * the answer's JSON (or {} when it is not JSON). node:http rather than fetch: a pod's
 * first request to the hub is its certificate's, on the way to ready, and fetch's
 * first call in a process loads and compiles its client first (30 ms here).
 */
export function postJson(url: string, secret: string, body: unknown, timeoutMs: number): Promise<{ status: number; json: Record<string, unknown> }> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      timeout: timeoutMs,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), authorization: authorization(secret) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        let json: Record<string, unknown> = {};
        try {
          const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          if (parsed !== null && typeof parsed === 'object') json = parsed as Record<string, unknown>;
        } catch {
          // Not JSON: the caller judges by the status.
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(text);
  });
}
