// The inbound side of a sidecar: every request to the service passes here on its way
// to the app. It continues the caller's trace (W3C, or B3 when that is what came),
// records the server span and the reporter="destination" metrics, and logs the request.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import httpProxy from 'http-proxy';
import { HEADER, serviceFqdn } from '../control/protocol.js';
import { formatFlags, type ResponseFlag } from '../policy/flags.js';
import { rescue } from './local-reply.js';
import { ATTR, type Span } from '../telemetry/span.js';
import { extractContext, formatTraceparent, newRequestId, newSpanId, newTraceId } from '../telemetry/trace-context.js';
import { decodePeer } from './identity.js';
import { firstHeader, recordRequest, type SidecarContext } from './context.js';
import { nowMs } from './telemetry.js';

/** Bytes of the app's answer, kept on the response itself (cheaper than a WeakMap per request). */
const BYTES_SENT = Symbol('bytesSent');
type CountedResponse = ServerResponse & { [BYTES_SENT]?: number };


export class Inbound {
  private readonly proxy = httpProxy.createProxyServer({ xfwd: false, ws: false });
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo' });
  private readonly target: { protocol: string; host: string; port: number };
  private readonly cluster: string;

  constructor(private readonly ctx: SidecarContext) {
    const app = ctx.boot.app!;
    this.target = { protocol: 'http:', host: app.host, port: app.port };
    // Istio names the inbound cluster by the service's port, not the port the app happens to listen on.
    this.cluster = `inbound|${ctx.boot.servicePort}||`;
    this.proxy.on('proxyRes', (proxyRes, _req, res) => {
      // Most apps say how long their answer is; only the others' bodies are counted as they pass.
      const counted = res as CountedResponse;
      const length = Number(proxyRes.headers['content-length']);
      if (Number.isFinite(length)) counted[BYTES_SENT] = length;
      else {
        counted[BYTES_SENT] = 0;
        proxyRes.on('data', (chunk: Buffer) => (counted[BYTES_SENT] = (counted[BYTES_SENT] ?? 0) + chunk.length));
      }
    });
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const startMs = nowMs();
    const parent = extractContext(req.headers);
    const traceId = parent?.traceId ?? newTraceId();
    const spanId = newSpanId();
    const sampled = parent?.sampled ?? true;
    const traceparent = formatTraceparent(traceId, spanId, sampled);
    const peer = req.headers[HEADER.peer];
    const source = decodePeer(peer);
    // delete turns the headers object slow for http-proxy's copy of it: only when needed.
    if (peer !== undefined) delete req.headers[HEADER.peer];
    req.headers.traceparent = traceparent;
    if (req.headers['x-b3-traceid'] || req.headers.b3) {
      // The app speaks B3: hand it the server span in its own dialect too.
      delete req.headers.b3;
      req.headers['x-b3-traceid'] = traceId;
      req.headers['x-b3-spanid'] = spanId;
      if (parent) req.headers['x-b3-parentspanid'] = parent.spanId;
      req.headers['x-b3-sampled'] = sampled ? '1' : '0';
    }
    const requestId = firstHeader(req.headers[HEADER.requestId]) ?? newRequestId();
    req.headers[HEADER.requestId] = requestId;
    const attempt = Number(firstHeader(req.headers[HEADER.attempt]) ?? '1') || 1;
    const requestKey = firstHeader(req.headers[HEADER.requestKey]);

    let flags: ResponseFlag[] = [];
    let details = 'via_upstream';
    let done = false;
    const finish = (status: number) => {
      if (done) return;
      done = true;
      const endMs = nowMs();
      const path = req.url ?? '/';
      const authority = firstHeader(req.headers.host) ?? '';
      const { boot, self } = this.ctx;
      const port = this.ctx.snapshot()?.services[boot.service]?.port ?? 0;
      const span: Span = {
        traceId,
        spanId,
        parentSpanId: parent?.spanId,
        name: `${serviceFqdn(boot.service)}:${port}${path.split('?')[0]}`,
        kind: 'server',
        startMs,
        endMs,
        service: boot.service,
        attributes: {
          [ATTR.method]: req.method ?? 'GET',
          [ATTR.path]: path,
          [ATTR.status]: status,
          [ATTR.authority]: authority,
          [ATTR.responseFlags]: formatFlags(flags),
          [ATTR.requestId]: requestId,
          [ATTR.attempt]: attempt,
          [ATTR.peerWorkload]: source.workload,
        },
        error: status === 0 || status >= 500,
      };
      if (requestKey) span.attributes[ATTR.requestKey] = requestKey;
      if (sampled) this.ctx.spans.add(span);
      recordRequest(this.ctx, {
        reporter: 'destination',
        startMs,
        endMs,
        method: req.method ?? 'GET',
        path,
        authority,
        status,
        flags,
        details,
        bytesReceived: Number(firstHeader(req.headers['content-length']) ?? 0) || 0,
        bytesSent: (res as CountedResponse)[BYTES_SENT] ?? 0,
        upstreamHost: `${this.target.host}:${this.target.port}`,
        upstreamCluster: this.cluster,
        upstreamServiceTime: null,
        attempts: 1,
        requestId,
        traceparent,
        userAgent: firstHeader(req.headers['user-agent']) ?? null,
        routeName: null,
        source,
        destination: self,
        destinationService: boot.service,
      });
    };
    // 'close' follows 'finish' for a complete answer; without 'finish', the caller went away
    // first (its timeout fired, or it gave up for a retry).
    res.once('close', () => {
      if (!res.writableFinished) {
        flags = [...flags, 'DC'];
        details = 'downstream_remote_disconnect';
        finish(res.headersSent ? res.statusCode : 0);
      } else {
        finish(res.statusCode);
      }
    });
    this.proxy.web(req, res, { target: this.target, agent: this.agent }, () => {
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      const reply = rescue({ kind: 'connect-failure' });
      flags = [...flags, reply.flag!];
      details = reply.details;
      const body = `${reply.body}\n`;
      res.writeHead(reply.status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }).end(body);
    });
  }

  close(): void {
    this.agent.destroy();
    this.proxy.close();
  }
}
