// The sidecar's admin listener, named as Envoy's: Prometheus metrics at
// /stats/prometheus (what Prometheus scrapes), Envoy's own text at /stats, readiness at
// /healthz/ready, and the current config and clusters for a curious human
// (`mesh-sim proxy POD ENDPOINT` asks for them, as `pilot-agent request GET` does).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SidecarContext } from './context.js';
import type { ClusterSet } from './clusters.js';
import { envoyStatsText } from './envoy-stats.js';

/** What the admin listener answers, as Envoy's admin names them. */
export const ADMIN_ENDPOINTS = ['stats', 'stats/prometheus', 'clusters', 'config_dump', 'healthz/ready'] as const;

export function handleAdmin(ctx: SidecarContext, clusters: ClusterSet, ready: () => boolean, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  const json = (status: number, body: unknown) => {
    const text = JSON.stringify(body, null, 2) + '\n';
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  };
  switch (path) {
    case '/stats/prometheus':
    case '/metrics':
      ctx.metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': ctx.metrics.registry.contentType }).end(text),
        (error: Error) => res.writeHead(500).end(error.message),
      );
      return;
    case '/stats':
      envoyStatsText(ctx.metrics.registry, clusters.all()).then(
        (text) => res.writeHead(200, { 'content-type': 'text/plain' }).end(text),
        (error: Error) => res.writeHead(500).end(error.message),
      );
      return;
    case '/healthz/ready':
      if (ready()) res.writeHead(200, { 'content-type': 'text/plain' }).end('LIVE\n');
      else res.writeHead(503, { 'content-type': 'text/plain' }).end('PRE_INITIALIZING\n');
      return;
    case '/config_dump':
      json(200, { instance: ctx.boot.instance, snapshot: ctx.snapshot() ?? null });
      return;
    case '/clusters':
      json(200, clusters.all().map((c) => c.describe()));
      return;
    default:
      json(404, { error: `try ${ADMIN_ENDPOINTS.map((e) => `/${e}`).join(', ')}` });
  }
}
