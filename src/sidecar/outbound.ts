// The outbound side of a sidecar: every call the app makes (HTTP_PROXY-style, absolute
// form, or by Host header at a gateway) passes here. Policies apply as Envoy applies
// them at the caller: route match and weighted version, fault delay and abort before
// the call leaves, mirror, connection pool, retries with per-try and overall timeouts,
// outlier detection. Each attempt is its own client span; the request is logged and
// counted once (reporter="source").

import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import httpProxy from 'http-proxy';
import { HEADER, serviceFromAuthority, type Endpoint, type SidecarSnapshot } from '../control/protocol.js';
import { defaultMeshPolicy, type MeshPolicy } from '../scenario/model.js';
import { chance, unit } from '../policy/decide.js';
import { pickWeighted, selectRoute } from '../policy/routing.js';
import { backoffMs, isRetriable, type AttemptOutcome } from '../policy/retry.js';
import type { ResponseFlag } from '../policy/flags.js';
import { ATTR, type AttributeValue, type Span } from '../telemetry/span.js';
import { extractContext, formatTraceparent, newRequestId, newSpanId, newTraceId } from '../telemetry/trace-context.js';
import { Cluster, hostKey } from './cluster.js';
import { firstHeader, recordRequest, type SidecarContext } from './context.js';
import { encodePeer, servicePeer, type Peer } from './identity.js';
import { nowMs } from './telemetry.js';
import type { OutlierEvent } from '../policy/outlier.js';

/** Like Envoy's per-request buffer limit: bodies are kept whole so a retry can resend them. */
const MAX_BUFFERED_BODY = 1024 * 1024;
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);
const EMPTY = Buffer.alloc(0);
const NOTHING_TRIED: ReadonlySet<string> = new Set();

type Outcome = AttemptOutcome | { kind: 'overall-timeout' };

interface Attempt {
  number: number;
  endpoint: Endpoint;
  spanId: string;
  startMs: number;
  endMs: number;
  outcome: Outcome;
  response: IncomingMessage | undefined;
}

/** One attempt in flight: http-proxy hands its ClientRequest over in the 'proxyReq' event. */
class AttemptState {
  proxyReq: ClientRequest | undefined;
  settled = false;
  timer: NodeJS.Timeout | undefined;
  constructor(readonly resolve: (outcome: Outcome, response?: IncomingMessage) => void) {}

  attach(proxyReq: ClientRequest): void {
    this.proxyReq = proxyReq;
    if (this.settled) proxyReq.destroy();
    else proxyReq.once('response', (response) => this.settle({ kind: 'response', status: response.statusCode ?? 502 }, response));
  }

  settle(outcome: Outcome | 'stale', response?: IncomingMessage): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    if (outcome === 'stale' || outcome.kind !== 'response') this.proxyReq?.destroy();
    this.resolve(outcome === 'stale' ? { kind: 'connect-failure' } : outcome, response);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A request without a body needs no buffer: its first try pipes it straight through. */
function isBodiless(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length === undefined || length === '0') && req.headers['transfer-encoding'] === undefined;
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BUFFERED_BODY) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BUFFERED_BODY ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export class ClusterSet {
  private readonly clusters = new Map<string, Cluster>();

  constructor(
    private readonly snapshot: () => SidecarSnapshot | undefined,
    private readonly onOutlier: (cluster: Cluster, event: OutlierEvent) => void,
  ) {}

  get(service: string, subset: string | undefined): Cluster | undefined {
    const key = `${service}|${subset ?? ''}`;
    let cluster = this.clusters.get(key);
    if (cluster) return cluster;
    const snap = this.snapshot();
    const entry = snap?.services[service];
    if (!snap || !entry) return undefined;
    const policy = snap.policies[service] ?? defaultMeshPolicy();
    cluster = new Cluster(service, subset, entry.port, policy.connectionPool, this.onOutlier);
    cluster.update(entry.endpoints, policy.connectionPool, policy.outlierDetection, nowMs());
    this.clusters.set(key, cluster);
    return cluster;
  }

  /** A new snapshot: every cluster takes its new endpoints and limits. */
  refresh(): void {
    const snap = this.snapshot();
    if (!snap) return;
    for (const cluster of this.clusters.values()) {
      const entry = snap.services[cluster.service];
      const policy = snap.policies[cluster.service] ?? defaultMeshPolicy();
      cluster.update(entry?.endpoints ?? [], policy.connectionPool, policy.outlierDetection, nowMs());
    }
  }

  sweep(now: number): void {
    for (const cluster of this.clusters.values()) cluster.sweep(now);
  }

  all(): Cluster[] {
    return [...this.clusters.values()];
  }

  close(): void {
    for (const cluster of this.clusters.values()) cluster.close();
  }
}

interface RequestState {
  startMs: number;
  key: string;
  traceId: string;
  parentSpanId: string | undefined;
  sampled: boolean;
  requestId: string;
  service: string;
  authority: string;
  path: string;
  method: string;
  flags: ResponseFlag[];
  /** FILE:LINE of the rule that shaped the outcome, for "why it failed". */
  cause: string | undefined;
  routeName: string | null;
  fault: 'delay' | 'abort' | undefined;
  attempts: Attempt[];
  cluster: Cluster | undefined;
  bytesReceived: number;
  /** The attempt in flight, settled as a reset if the app hangs up first. */
  inFlight: AttemptState | undefined;
}

interface AttemptOptions {
  meshSimAttempt?: AttemptState;
}

export class Outbound {
  private readonly proxy = httpProxy.createProxyServer({ selfHandleResponse: true, xfwd: false, ws: false });
  private sequence = 0;
  private readonly peerHeader: string;

  constructor(
    private readonly ctx: SidecarContext,
    readonly clusters: ClusterSet,
  ) {
    this.peerHeader = encodePeer(ctx.self);
    // http-proxy copies each call's options shallowly, so the attempt rides along in them.
    this.proxy.on('proxyReq', (proxyReq, _req, _res, options) => (options as AttemptOptions).meshSimAttempt?.attach(proxyReq));
    // Errors always reach the per-attempt callback; this keeps http-proxy from throwing.
    this.proxy.on('error', () => {});
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startMs = nowMs();
    req.setMaxListeners(64);
    const { authority, path } = destinationOf(req);
    const snapshot = this.ctx.snapshot();
    const parent = extractContext(req.headers);
    const state: RequestState = {
      startMs,
      key: firstHeader(req.headers[HEADER.requestKey]) ?? `${this.ctx.boot.instance}.${this.sequence++}`,
      traceId: parent?.traceId ?? newTraceId(),
      parentSpanId: parent?.spanId,
      sampled: parent?.sampled ?? true,
      requestId: firstHeader(req.headers[HEADER.requestId]) ?? newRequestId(),
      service: serviceFromAuthority(authority),
      authority,
      path,
      method: req.method ?? 'GET',
      flags: [],
      cause: undefined,
      routeName: null,
      fault: undefined,
      attempts: [],
      cluster: undefined,
      bytesReceived: 0,
      inFlight: undefined,
    };
    // http-proxy does not report an upstream error once the downstream is gone.
    res.once('close', () => state.inFlight?.settle({ kind: 'reset' }));
    const body = isBodiless(req) ? EMPTY : await readBody(req);
    if (body === undefined) {
      this.localReply(req, res, state, 413, [], 'request_payload_too_large', 'payload too large for the retry buffer (1 MiB)');
      return;
    }
    state.bytesReceived = body.length;
    if (!snapshot) {
      this.localReply(req, res, state, 503, ['UH'], 'no_healthy_upstream', 'no healthy upstream');
      return;
    }
    const entry = snapshot.services[state.service];
    if (!entry) {
      // Envoy's NR reply is empty; at the gateway a person is likely reading, so say how to address a service.
      const hint = this.ctx.boot.mode === 'gateway'
        ? `no service \`${state.service}\` in this mesh: name one in the Host header, e.g. curl -H 'Host: ${Object.keys(snapshot.services)[0] ?? 'SERVICE'}' http://${firstHeader(req.headers.host) ?? 'GATEWAY'}${path}`
        : '';
      this.localReply(req, res, state, 404, ['NR'], 'route_not_found', hint);
      return;
    }
    const policy = snapshot.policies[state.service] ?? defaultMeshPolicy();
    const seed = snapshot.seed;

    let subset: string | undefined;
    if (policy.routes.length > 0) {
      const selected = selectRoute(policy.routes, req.headers, path);
      if (!selected) {
        this.localReply(req, res, state, 404, ['NR'], 'route_not_found', '');
        return;
      }
      subset = pickWeighted(selected.route.destinations, unit(seed, 'route', state.key));
      state.routeName = `${state.service} routes[${selected.index}] (${selected.route.where})`;
      state.cause = selected.route.where;
    }
    if (policy.delay && chance(policy.delay.percentage, seed, 'delay', state.key)) {
      state.flags.push('DI');
      state.fault = 'delay';
      state.cause = policy.delay.where;
      await sleep(policy.delay.fixedDelayMs);
    }
    if (policy.abort && chance(policy.abort.percentage, seed, 'abort', state.key)) {
      state.fault = 'abort';
      state.cause = policy.abort.where;
      this.localReply(req, res, state, policy.abort.httpStatus, ['FI'], 'fault_filter_abort', 'fault filter abort');
      return;
    }
    if (policy.mirror && chance(policy.mirror.percentage, seed, 'mirror', state.key)) {
      this.mirror(state, policy.mirror.version, req, body, seed);
    }
    const cluster = this.clusters.get(state.service, subset);
    state.cluster = cluster;
    await this.forward(req, res, state, policy, cluster, body, seed);
  }

  /** Tries the upstream until an answer is final, then streams it or replies locally. */
  private async forward(req: IncomingMessage, res: ServerResponse, state: RequestState, policy: MeshPolicy, cluster: Cluster | undefined, body: Buffer, seed: number): Promise<void> {
    const routerStart = nowMs();
    const deadline = policy.timeoutMs !== undefined ? routerStart + policy.timeoutMs : Infinity;
    const tried = new Set<string>();
    const maxTries = 1 + policy.retries.attempts;
    for (let number = 1; number <= maxTries; number++) {
      const endpoint = cluster?.pick(tried, unit(seed, 'host', state.key, String(number)));
      if (!cluster || !endpoint) {
        if (state.attempts.length === 0) {
          state.cause = cluster && cluster.size > 0 ? (policy.outlierDetection?.where ?? state.cause) : state.cause;
          this.localReply(req, res, state, 503, [...state.flags, 'UH'], 'no_healthy_upstream', 'no healthy upstream');
          return;
        }
        break;
      }
      const admission = cluster.pool.acquire();
      if (admission.admission === 'overflow') {
        this.ctx.metrics.overflow.inc({ cluster_name: cluster.name });
        state.cause = policy.connectionPool.where ?? state.cause;
        this.localReply(req, res, state, 503, [...state.flags, 'UO'], 'overflow', 'upstream connect error or disconnect/reset before headers. reset reason: overflow');
        return;
      }
      if (admission.admission === 'queued') {
        const left = deadline - nowMs();
        const granted = await Promise.race([admission.granted.then(() => true), sleep(Math.max(0, left === Infinity ? 2 ** 31 - 1 : left)).then(() => false)]);
        if (!granted) {
          admission.cancel();
          this.ctx.metrics.timeouts.inc({ cluster_name: cluster.name });
          state.cause = policy.timeoutWhere ?? state.cause;
          this.localReply(req, res, state, 504, [...state.flags, 'UT'], 'response_timeout', 'upstream request timeout');
          return;
        }
      }
      tried.add(hostKey(endpoint));
      if (number > 1) this.ctx.metrics.retries.inc({ cluster_name: cluster.name });
      const attempt = await this.attempt(req, res, state, cluster, endpoint, number, body, policy, deadline);
      state.attempts.push(attempt);
      const failed = attempt.outcome.kind !== 'response' || attempt.outcome.status >= 500;
      cluster.record(endpoint, failed, nowMs());
      const release = () => cluster.pool.release();
      if (attempt.response) attempt.response.once('close', release);
      else release();

      const outcome = attempt.outcome;
      if (outcome.kind === 'overall-timeout') break;
      const retriable = outcome.kind !== 'response' || failed || outcome.status === 409 || policy.retries.statusCodes.includes(outcome.status);
      const canRetry = number < maxTries && retriable && isRetriable(outcome, policy.retries) && nowMs() < deadline;
      if (!canRetry) break;
      attempt.response?.resume();
      const pause = backoffMs(number, unit(seed, 'backoff', state.key, String(number)));
      if (nowMs() + pause >= deadline) break;
      await sleep(pause);
    }
    this.deliver(req, res, state, policy);
  }

  private attempt(req: IncomingMessage, res: ServerResponse, state: RequestState, cluster: Cluster, endpoint: Endpoint, number: number, body: Buffer, policy: MeshPolicy, deadline: number): Promise<Attempt> {
    const spanId = newSpanId();
    // The first attempt's span covers an injected delay, so a waterfall shows it.
    const startMs = number === 1 && state.fault === 'delay' ? state.startMs : nowMs();
    const perTry = policy.retries.perTryTimeoutMs;
    const untilDeadline = deadline - nowMs();
    const overallFirst = perTry === undefined || untilDeadline <= perTry;
    const limit = overallFirst ? untilDeadline : perTry;
    return new Promise((resolve) => {
      const finish = (outcome: Outcome, response?: IncomingMessage) => {
        state.inFlight = undefined;
        resolve({ number, endpoint, spanId, startMs, endMs: nowMs(), outcome, response });
      };
      const attemptState = new AttemptState(finish);
      state.inFlight = attemptState;
      if (res.destroyed) {
        attemptState.settle({ kind: 'reset' });
        return;
      }
      const options = {
        meshSimAttempt: attemptState,
        target: { protocol: 'http:', host: endpoint.host, port: endpoint.port },
        agent: cluster.agent,
        // The first try of a bodiless request pipes the request itself; later tries, and
        // requests with a body, send the buffered copy.
        buffer: number === 1 && body === EMPTY ? undefined : Readable.from(body.length > 0 ? [body] : []),
        headers: {
          traceparent: formatTraceparent(state.traceId, spanId, state.sampled),
          [HEADER.attempt]: String(number),
          [HEADER.requestKey]: state.key,
          [HEADER.requestId]: state.requestId,
          [HEADER.peer]: this.peerHeader,
        },
      };
      if (limit !== Infinity) {
        attemptState.timer = setTimeout(() => attemptState.settle(overallFirst ? { kind: 'overall-timeout' } : { kind: 'per-try-timeout' }), Math.max(0, limit));
      }
      delete req.headers.expect;
      this.proxy.web(req, res, options, (error: NodeJS.ErrnoException) => {
        const code = error.code ?? '';
        if (code === 'ECONNRESET' && attemptState.proxyReq?.reusedSocket) attemptState.settle('stale');
        else attemptState.settle(CONNECT_ERRORS.has(code) ? { kind: 'connect-failure' } : { kind: 'reset' });
      });
    });
  }

  /** Sends the final answer downstream: the upstream's response, or a local reply saying why. */
  private deliver(req: IncomingMessage, res: ServerResponse, state: RequestState, policy: MeshPolicy): void {
    const last = state.attempts[state.attempts.length - 1]!;
    const outcome = last.outcome;
    const exhausted = state.attempts.length > 1 || policy.retries.attempts > 0;
    const urx: ResponseFlag[] = exhausted && outcome.kind !== 'overall-timeout' && (outcome.kind !== 'response' || isRetriable(outcome, policy.retries)) && state.attempts.length > 1 ? ['URX'] : [];
    const cluster = state.cluster?.name ?? '';
    switch (outcome.kind) {
      case 'response': {
        const response = last.response!;
        const upstreamTime = Math.round(last.endMs - last.startMs);
        const headers: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(response.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
        headers[HEADER.upstreamServiceTime] = String(upstreamTime);
        if (urx.length > 0) state.cause = policy.retries.where ?? state.cause;
        state.flags.push(...urx);
        let sent = 0;
        response.on('data', (chunk: Buffer) => (sent += chunk.length));
        res.writeHead(outcome.status, headers);
        response.pipe(res);
        const done = () => {
          last.endMs = nowMs();
          this.finish(req, res, state, outcome.status, 'via_upstream', sent, upstreamTime);
        };
        res.once('finish', done);
        res.once('close', () => {
          if (res.writableFinished) return;
          state.flags.push('DC');
          done();
        });
        return;
      }
      case 'overall-timeout':
        this.ctx.metrics.timeouts.inc({ cluster_name: cluster });
        state.cause = policy.timeoutWhere ?? state.cause;
        this.localReply(req, res, state, 504, [...state.flags, 'UT'], 'response_timeout', 'upstream request timeout');
        return;
      case 'per-try-timeout':
        this.ctx.metrics.timeouts.inc({ cluster_name: cluster });
        state.cause = policy.retries.where ?? state.cause;
        this.localReply(req, res, state, 504, [...state.flags, 'UT', ...urx], 'upstream_per_try_timeout', 'upstream request timeout');
        return;
      case 'connect-failure':
        if (urx.length > 0) state.cause = policy.retries.where ?? state.cause;
        this.localReply(req, res, state, 503, [...state.flags, 'UF', ...urx], 'upstream_reset_before_response_started{connection_failure}', 'upstream connect error or disconnect/reset before headers. reset reason: connection failure');
        return;
      case 'reset':
        if (urx.length > 0) state.cause = policy.retries.where ?? state.cause;
        this.localReply(req, res, state, 503, [...state.flags, 'UC', ...urx], 'upstream_reset_before_response_started{connection_termination}', 'upstream connect error or disconnect/reset before headers. reset reason: connection termination');
        return;
    }
  }

  /** An answer the sidecar makes itself, as Envoy's local replies. */
  private localReply(req: IncomingMessage, res: ServerResponse, state: RequestState, status: number, flags: ResponseFlag[], details: string, text: string): void {
    state.flags = flags;
    const body = text === '' ? EMPTY : Buffer.from(text + '\n');
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': body.length });
      res.end(body);
    }
    this.finish(req, res, state, status, details, body.length, null);
  }

  private finish(req: IncomingMessage, res: ServerResponse, state: RequestState, status: number, details: string, bytesSent: number, upstreamTime: number | null): void {
    const endMs = nowMs();
    const { ctx } = this;
    const last = state.attempts[state.attempts.length - 1];
    const destination: Peer = last ? servicePeer(state.service, last.endpoint.version) : { ...servicePeer(state.service, 'unknown'), workload: 'unknown' };
    const flagText = state.flags.length === 0 ? '-' : state.flags.join(',');
    if (state.sampled) {
      const name = `${state.authority}${state.path.split('?')[0]}`;
      if (state.attempts.length === 0) {
        // Nothing left the sidecar (fault abort, overflow, no route): one span says so.
        const attributes = this.clientAttributes(state, status, flagText, true, 0);
        if (state.cause) attributes[ATTR.rule] = state.cause;
        this.emitSpan(newSpanId(), name, state, state.startMs, endMs, attributes, status);
      }
      for (let i = 0; i < state.attempts.length; i++) {
        const attempt = state.attempts[i]!;
        const final = i === state.attempts.length - 1;
        const outcome = attempt.outcome;
        const attemptStatus = final ? status : outcome.kind === 'response' ? outcome.status : outcome.kind === 'per-try-timeout' || outcome.kind === 'overall-timeout' ? 504 : 503;
        const attemptFlags = final ? flagText : outcome.kind === 'per-try-timeout' ? 'UT' : outcome.kind === 'connect-failure' ? 'UF' : outcome.kind === 'reset' ? 'UC' : '-';
        const attributes = this.clientAttributes(state, attemptStatus, attemptFlags, final, attempt.number);
        attributes[ATTR.destinationVersion] = attempt.endpoint.version;
        attributes[ATTR.serverInstance] = attempt.endpoint.instance;
        if (final && state.cause) attributes[ATTR.rule] = state.cause;
        this.emitSpan(attempt.spanId, name, state, attempt.startMs, final ? endMs : attempt.endMs, attributes, attemptStatus);
      }
    }
    recordRequest(ctx, {
      reporter: 'source',
      startMs: state.startMs,
      endMs,
      method: state.method,
      path: state.path,
      authority: state.authority,
      status,
      flags: state.flags,
      details,
      bytesReceived: state.bytesReceived,
      bytesSent,
      upstreamHost: last ? hostKey(last.endpoint) : null,
      upstreamCluster: state.cluster?.name ?? `outbound|||${state.service}`,
      upstreamServiceTime: upstreamTime,
      attempts: state.attempts.length,
      requestId: state.requestId,
      traceparent: formatTraceparent(state.traceId, state.parentSpanId ?? '0000000000000001', state.sampled),
      userAgent: firstHeader(req.headers['user-agent']) ?? null,
      routeName: state.routeName,
      source: ctx.self,
      destination,
      destinationService: state.service,
    });
    void res;
  }

  private clientAttributes(state: RequestState, status: number, flags: string, final: boolean, attempt: number): Record<string, AttributeValue> {
    const attributes: Record<string, AttributeValue> = {
      [ATTR.method]: state.method,
      [ATTR.path]: state.path,
      [ATTR.authority]: state.authority,
      [ATTR.peerService]: state.service,
      [ATTR.requestId]: state.requestId,
      [ATTR.requestKey]: state.key,
      [ATTR.status]: status,
      [ATTR.responseFlags]: flags,
      [ATTR.final]: final,
      [ATTR.attempt]: attempt,
      [ATTR.retry]: attempt > 1,
    };
    if (state.cluster) attributes[ATTR.upstreamCluster] = state.cluster.name;
    if (state.fault) attributes[ATTR.fault] = state.fault;
    return attributes;
  }

  private emitSpan(spanId: string, name: string, state: RequestState, startMs: number, endMs: number, attributes: Record<string, AttributeValue>, status: number): void {
    const span: Span = {
      traceId: state.traceId,
      spanId,
      parentSpanId: state.parentSpanId,
      name,
      kind: 'client',
      startMs,
      endMs,
      service: this.ctx.self.canonicalService,
      attributes,
      error: status === 0 || status >= 500,
    };
    this.ctx.spans.add(span);
  }

  /** A copy of the request to another version, its answer discarded (Envoy's shadowing). */
  private mirror(state: RequestState, version: string, req: IncomingMessage, body: Buffer, seed: number): void {
    const cluster = this.clusters.get(state.service, version);
    const endpoint = cluster?.pick(NOTHING_TRIED, unit(seed, 'host', state.key, 'mirror'));
    if (!cluster || !endpoint) return;
    const spanId = newSpanId();
    const startMs = nowMs();
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    const host = state.authority.split(':');
    headers.host = `${host[0]}-shadow${host[1] ? `:${host[1]}` : ''}`;
    headers.traceparent = formatTraceparent(state.traceId, spanId, state.sampled);
    headers[HEADER.requestKey] = `${state.key}!m`;
    headers[HEADER.peer] = this.peerHeader;
    headers['content-length'] = String(body.length);
    const record = (status: number) => {
      if (!state.sampled) return;
      this.emitSpan(spanId, `${headers.host}${state.path.split('?')[0]}`, state, startMs, nowMs(), {
        [ATTR.method]: state.method, [ATTR.path]: state.path, [ATTR.status]: status, [ATTR.peerService]: state.service,
        [ATTR.final]: false, [ATTR.attempt]: 1, [ATTR.retry]: false, [ATTR.destinationVersion]: version,
        [ATTR.upstreamCluster]: cluster.name, [ATTR.mirror]: true,
      }, status);
    };
    const copy = http.request({ host: endpoint.host, port: endpoint.port, method: state.method, path: state.path, headers, agent: cluster.agent, timeout: 30_000 }, (response) => {
      response.resume();
      response.on('end', () => record(response.statusCode ?? 0));
    });
    copy.on('timeout', () => copy.destroy());
    copy.on('error', () => record(503));
    copy.end(body);
  }

  close(): void {
    this.clusters.close();
    this.proxy.close();
  }
}

/** Where a call is going: absolute form (HTTP_PROXY style) or origin form with Host. */
export function destinationOf(req: IncomingMessage): { authority: string; path: string } {
  const url = req.url ?? '/';
  if (url.startsWith('http://') || url.startsWith('https://')) {
    try {
      const parsed = new URL(url);
      return { authority: parsed.host, path: `${parsed.pathname}${parsed.search}` };
    } catch {
      // Fall through to the Host header.
    }
  }
  return { authority: firstHeader(req.headers.host) ?? '', path: url };
}
