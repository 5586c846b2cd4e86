// One attempt at one upstream host, as Envoy's UpstreamRequest: the request forwarded
// through http-proxy with this attempt's trace context and attempt count, its per-try
// (or the overall) timeout, and a result that is exactly one outcome: a response, a
// connection failure, a reset, or a timeout.

import type { ClientRequest, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type httpProxy from 'http-proxy';
import type { Endpoint } from '../../control/protocol.js';
import { HEADER } from '../../control/protocol.js';
import type { HeaderOperations } from '../../policy/config.js';
import { formatTraceparent, newSpanId } from '../../telemetry/trace-context.js';
import type { Cluster } from '../cluster.js';
import type { Attempt, OutboundStream, Outcome } from '../stream.js';
import { nowMs } from '../telemetry.js';
import { ConnectFailure } from '../upstream-pool.js';

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);
export const EMPTY = Buffer.alloc(0);

/** The attempt in flight: http-proxy hands its ClientRequest over in the 'proxyReq' event. */
export class UpstreamRequest {
  proxyReq: ClientRequest | undefined;
  private settled = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly resolve: (outcome: Outcome, response?: IncomingMessage) => void) {}

  attach(proxyReq: ClientRequest): void {
    this.proxyReq = proxyReq;
    if (this.settled) {
      proxyReq.destroy();
      return;
    }
    proxyReq.once('response', (response) => this.settle({
      kind: 'response',
      status: response.statusCode ?? 502,
      ...(response.headers['x-envoy-overloaded'] === 'true' ? { overloaded: true } : {}),
    }, response));
  }

  timeoutAfter(ms: number, outcome: Outcome): void {
    this.timer = setTimeout(() => this.settle(outcome), Math.max(0, ms));
  }

  /**
   * A connection the pool could not make is a connect failure (UF), as is a socket kept
   * alive and closed by the upstream meanwhile; any other error a reset (UC).
   */
  failed(error: NodeJS.ErrnoException): void {
    const code = error.code ?? '';
    if (error instanceof ConnectFailure) this.settle({ kind: 'connect-failure' });
    else if (code === 'ECONNRESET' && this.proxyReq?.reusedSocket) this.settle({ kind: 'connect-failure' });
    else this.settle(CONNECT_ERRORS.has(code) ? { kind: 'connect-failure' } : { kind: 'reset' });
  }

  settle(outcome: Outcome, response?: IncomingMessage): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    if (outcome.kind !== 'response') this.proxyReq?.destroy();
    this.resolve(outcome, response);
  }
}

export interface AttemptSpec {
  stream: OutboundStream;
  cluster: Cluster;
  endpoint: Endpoint;
  number: number;
  /** Milliseconds until the route's timeout (Infinity for none). */
  untilDeadline: number;
  perTryTimeoutMs: number | undefined;
  peerHeader: string;
  requestHeaders: HeaderOperations | undefined;
}

/** Sends one attempt and resolves with what became of it (a response is not yet read). */
export function sendAttempt(proxy: httpProxy, spec: AttemptSpec): Promise<Attempt> {
  const { stream, cluster, endpoint, number } = spec;
  const spanId = newSpanId();
  // The first attempt's span covers an injected delay, so a waterfall shows it.
  const startMs = number === 1 && stream.fault === 'delay' ? stream.startMs : nowMs();
  const overallFirst = spec.perTryTimeoutMs === undefined || spec.untilDeadline <= spec.perTryTimeoutMs;
  const limit = overallFirst ? spec.untilDeadline : spec.perTryTimeoutMs!;
  const ended = cluster.started(endpoint);
  const transport = cluster.transport(endpoint);
  return new Promise((resolve) => {
    const upstream = new UpstreamRequest((outcome, response) => {
      cancelReset();
      if (response) response.once('close', ended);
      else ended();
      resolve({ number, endpoint, spanId, startMs, endMs: nowMs(), outcome, response, mtls: transport.mtls });
    });
    const cancelReset = stream.onDownstreamReset(() => upstream.settle({ kind: 'reset' }));
    if (stream.downstreamGone) {
      upstream.settle({ kind: 'reset' });
      return;
    }
    const { req } = stream;
    const headers: Record<string, string> = {
      traceparent: formatTraceparent(stream.traceId, spanId, stream.sampled),
      [HEADER.attempt]: String(number),
      [HEADER.requestKey]: stream.key,
      [HEADER.requestId]: stream.requestId,
      [HEADER.peer]: spec.peerHeader,
    };
    const ops = spec.requestHeaders;
    if (ops) {
      for (const name of ops.remove) delete req.headers[name];
      for (const [name, value] of Object.entries(ops.add)) {
        const have = req.headers[name];
        headers[name] = have === undefined ? value : `${Array.isArray(have) ? have.join(',') : have},${value}`;
      }
      Object.assign(headers, ops.set);
    }
    if (limit !== Infinity) upstream.timeoutAfter(limit, overallFirst ? { kind: 'overall-timeout' } : { kind: 'per-try-timeout' });
    delete req.headers.expect;
    req.url = stream.upstreamPath;
    proxy.web(req, stream.res, {
      meshSimUpstream: upstream,
      target: { protocol: transport.protocol, host: endpoint.host, port: endpoint.port },
      agent: transport.agent,
      // The first try of a bodiless request pipes the request itself; later tries, and
      // requests with a body, send the buffered copy.
      buffer: number === 1 && stream.body === EMPTY ? undefined : Readable.from(stream.body.length > 0 ? [stream.body] : []),
      headers,
    } as httpProxy.ServerOptions, (error: NodeJS.ErrnoException) => upstream.failed(error));
  });
}

/** http-proxy copies each call's options shallowly, so the attempt rides along in them. */
export function attachUpstreams(proxy: httpProxy): void {
  proxy.on('proxyReq', (proxyReq, _req, _res, options) => (options as { meshSimUpstream?: UpstreamRequest }).meshSimUpstream?.attach(proxyReq));
  // Errors always reach the per-attempt callback; this keeps http-proxy from throwing.
  proxy.on('error', () => {});
}

/** The status an outcome counts as for outlier detection: Envoy's stand-ins for local failures. */
export function outlierStatus(outcome: Outcome): number {
  switch (outcome.kind) {
    case 'response': return outcome.status;
    case 'connect-failure':
    case 'reset': return 503;
    case 'per-try-timeout':
    case 'overall-timeout': return 504;
  }
}

export { type Attempt };
