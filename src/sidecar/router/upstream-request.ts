// One attempt at one upstream host, as Envoy's UpstreamRequest: the request forwarded
// with this attempt's trace context and attempt count, its per-try (or the overall)
// timeout, and a result that is exactly one outcome: a response, a connection failure,
// a reset, or a timeout.

import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Endpoint } from '../../control/protocol.js';
import { HEADER } from '../../control/protocol.js';
import type { HeaderOperations } from '../../policy/config.js';
import { formatTraceparent, newSpanId } from '../../telemetry/trace-context.js';
import type { Cluster } from '../cluster.js';
import type { Attempt, OutboundStream, Outcome } from '../stream.js';
import { nowMs } from '../telemetry.js';
import { ConnectFailure } from '../upstream-pool.js';
import { callUpstream, onwardRequestHeaders } from '../upstream-http.js';

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/** The attempt in flight, and the one answer it comes to. */
export class UpstreamRequest {
  request: ClientRequest | undefined;
  private settled = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly resolve: (outcome: Outcome, response?: IncomingMessage) => void) {}

  attach(request: ClientRequest): void {
    this.request = request;
    if (this.settled) {
      request.destroy();
      return;
    }
    request.once('response', (response) => this.settle({
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
    else if (code === 'ECONNRESET' && this.request?.reusedSocket) this.settle({ kind: 'connect-failure' });
    else this.settle(CONNECT_ERRORS.has(code) ? { kind: 'connect-failure' } : { kind: 'reset' });
  }

  settle(outcome: Outcome, response?: IncomingMessage): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    if (outcome.kind !== 'response') this.request?.destroy();
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
export function sendAttempt(spec: AttemptSpec): Promise<Attempt> {
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
    if (limit !== Infinity) upstream.timeoutAfter(limit, overallFirst ? { kind: 'overall-timeout' } : { kind: 'per-try-timeout' });
    const request = callUpstream({
      protocol: transport.protocol, host: endpoint.host, port: endpoint.port, agent: transport.agent,
      method: stream.method, path: stream.upstreamPath, headers: attemptHeaders(spec, spanId),
      // Every try sends the buffered body (empty for a bodiless request), so a retry can.
      body: stream.body,
    });
    request.on('error', (error: NodeJS.ErrnoException) => upstream.failed(error));
    upstream.attach(request);
  });
}

/**
 * The caller's end-to-end headers, as the route's header operations leave them, with
 * this attempt's trace context, attempt number and the mesh's own request headers.
 */
function attemptHeaders(spec: AttemptSpec, spanId: string): Record<string, string | string[]> {
  const { stream } = spec;
  const ops = spec.requestHeaders;
  // Removal edits the request itself, as Envoy's does, so the access log sees it too.
  if (ops) for (const name of ops.remove) delete stream.req.headers[name];
  const headers = onwardRequestHeaders(stream.req.headers);
  delete headers.expect;
  const added: Record<string, string> = {};
  if (ops) {
    for (const [name, value] of Object.entries(ops.add)) {
      const have = headers[name];
      added[name] = have === undefined ? value : `${Array.isArray(have) ? have.join(',') : have},${value}`;
    }
  }
  headers.traceparent = formatTraceparent(stream.traceId, spanId, stream.sampled);
  headers[HEADER.attempt] = String(spec.number);
  headers[HEADER.requestKey] = stream.key;
  headers[HEADER.requestId] = stream.requestId;
  headers[HEADER.peer] = spec.peerHeader;
  if (ops) Object.assign(headers, added, ops.set);
  return headers;
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
