// Three things mesh-sim does with HTTP in several places: answer with JSON (the hub's
// control plane, CA and collector), read a request body no larger than a limit (the
// rest is drained, not kept: the hub's endpoints and a sidecar's retry buffer), so no
// caller can make them hold more, and name the run's secret to the hub.

import type { IncomingMessage, ServerResponse } from 'node:http';

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
