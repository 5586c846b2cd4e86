// A sidecar's outbound side in the test's own process: the real connection manager and
// filter chain, fed a snapshot compiled from scenario text, sending to upstream servers
// the test defines on 127.0.0.1. Fast and exact, for testing one filter at a time.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseScenario } from '../../src/scenario/load.js';
import type { Endpoint, SidecarSnapshot } from '../../src/control/protocol.js';
import { HEADER } from '../../src/control/protocol.js';
import { Outbound } from '../../src/sidecar/outbound.js';
import { ClusterSet } from '../../src/sidecar/clusters.js';
import { IstioMetrics, LineWriter, type SpanSink } from '../../src/sidecar/telemetry.js';
import type { SidecarContext } from '../../src/sidecar/context.js';
import type { AccessLogEntry } from '../../src/telemetry/access-log.js';
import type { Span } from '../../src/telemetry/span.js';

export type Handler = (req: IncomingMessage, res: ServerResponse, instance: string) => void;

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

export interface OutboundHarness {
  call(service: string, path?: string, headers?: Record<string, string>, key?: string): Promise<Answer>;
  /** What each upstream instance received: its requests' headers. */
  received: Map<string, http.IncomingHttpHeaders[]>;
  log(): AccessLogEntry[];
  spans: Span[];
  metrics: IstioMetrics;
  close(): Promise<void>;
}

const ok: Handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');

/** Starts one upstream per instance of every service (replica 0..n of each version). */
export async function outboundHarness(text: string, handlers: Record<string, Handler> = {}, seed = 1): Promise<OutboundHarness> {
  const { scenario } = parseScenario(text, 'test.yaml');
  const servers: http.Server[] = [];
  const received = new Map<string, http.IncomingHttpHeaders[]>();
  const services: SidecarSnapshot['services'] = {};
  for (const service of scenario.services) {
    const endpoints: Endpoint[] = [];
    for (const version of service.versions) {
      for (let r = 0; r < version.replicas; r++) {
        const instance = `${service.name}-${version.name}-${r}`;
        const handler = handlers[`${service.name}-${version.name}`] ?? handlers[service.name] ?? ok;
        const server = http.createServer((req, res) => {
          req.resume();
          received.set(instance, [...(received.get(instance) ?? []), req.headers]);
          handler(req, res, instance);
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        servers.push(server);
        endpoints.push({ instance, version: version.name, host: '127.0.0.1', port: (server.address() as AddressInfo).port, sidecar: false });
      }
    }
    services[service.name] = { name: service.name, port: service.port ?? 8080, endpoints };
  }
  const snapshot: SidecarSnapshot = { version: 1, flush: 0, seed, services, config: scenario.config };
  const lines: string[] = [];
  const spans: Span[] = [];
  const log = new LineWriter((t) => lines.push(...t.split('\n').filter((l) => l !== '')), 60_000);
  const metrics = new IstioMetrics();
  const ctx: SidecarContext = {
    boot: {
      instance: 'client-v1-0', service: 'client', version: 'v1', namespace: 'default', workload: 'client-v1', servicePort: 8080, mode: 'sidecar',
      listen: { host: '127.0.0.1', inbound: 0, outbound: 0, admin: 0 }, app: { host: '127.0.0.1', port: 1 }, controlUrl: 'http://127.0.0.1:1', controlSecret: 'test',
    },
    self: { workload: 'client-v1', namespace: 'default', app: 'client', version: 'v1', canonicalService: 'client', canonicalRevision: 'v1' },
    snapshot: () => snapshot,
    tls: undefined,
    metrics,
    spans: { add: (span: Span) => spans.push(span), flush: async () => {}, stop: async () => {} } satisfies SpanSink,
    log,
  };
  const clusters = new ClusterSet(() => snapshot, () => {});
  const outbound = new Outbound(ctx, clusters);
  const front = http.createServer((req, res) => void outbound.handle(req, res));
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const port = (front.address() as AddressInfo).port;
  const agent = new http.Agent({ keepAlive: true });
  let n = 0;
  return {
    received,
    spans,
    metrics,
    log: () => {
      log.flush();
      return lines.map((l) => JSON.parse(l) as AccessLogEntry);
    },
    call: (service, path = '/', headers = {}, key = `t.${n++}`) => new Promise((resolve, reject) => {
      const started = performance.now();
      const authority = `${service}:${services[service]?.port ?? 8080}`;
      const req = http.request({
        host: '127.0.0.1', port, method: 'GET', agent,
        // Absolute form, as an app behind HTTP_PROXY sends it.
        path: `http://${authority}${path}`,
        headers: { host: authority, [HEADER.requestKey]: key, ...headers },
      }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ms: performance.now() - started }));
      });
      req.on('error', reject);
      req.end();
    }),
    close: async () => {
      agent.destroy();
      outbound.close();
      log.stop();
      for (const s of [front, ...servers]) {
        s.closeAllConnections();
        await new Promise((resolve) => s.close(resolve));
      }
    },
  };
}
