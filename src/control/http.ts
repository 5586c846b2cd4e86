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

/** What the hub answered a POST: its status and its body. */
export interface HubAnswer {
  status: number;
  body: Buffer;
}

/**
 * POSTs a JSON body to the hub with the run's secret, over `agent` when given (a
 * sender that posts often keeps its connection). Resolves with the answer, whatever
 * its status; rejects when the hub cannot be reached or does not answer within
 * `timeoutMs`. node:http rather than fetch: a pod's first request to the hub is its
 * certificate's, on the way to ready, and fetch's first call in a process loads and
 * compiles its client first (30 ms here).
 */
export function postToHub(url: string | URL, secret: string, json: string | Buffer, options: { timeoutMs: number; agent?: http.Agent }): Promise<HubAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      timeout: options.timeoutMs,
      ...(options.agent ? { agent: options.agent } : {}),
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), authorization: authorization(secret) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(json);
  });
}

/** postToHub with `body` as JSON, and the answer's JSON (or {} when it is not JSON). */
export async function postJson(url: string, secret: string, body: unknown, timeoutMs: number): Promise<{ status: number; json: Record<string, unknown> }> {
  const answer = await postToHub(url, secret, JSON.stringify(body), { timeoutMs });
  let json: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(answer.body.toString('utf8'));
    if (parsed !== null && typeof parsed === 'object') json = parsed as Record<string, unknown>;
  } catch {
    // Not JSON: the caller judges by the status.
  }
  return { status: answer.status, json };
}
