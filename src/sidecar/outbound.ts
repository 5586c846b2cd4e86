// The outbound side of a sidecar, as Envoy's HTTP connection manager: every call the app
// makes (HTTP_PROXY-style, absolute form, or by Host header at a gateway) becomes one
// stream, is matched to a route of its host's VirtualService, and passes the filter chain
// (fault, then the router). Whatever happens, it ends in one place: logged and counted
// once (reporter="source"), and traced as one client span per attempt.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { HEADER, serviceFromAuthority } from '../control/protocol.js';
import { readBounded } from '../control/http.js';
import { routeLabel, virtualHostFor } from '../policy/config.js';
import { formatFlags } from '../policy/flags.js';
import { selectRoute } from '../policy/routing.js';
import { ATTR, type AttributeValue, type Span } from '../telemetry/span.js';
import { extractContext, formatTraceparent, newRequestId, newSpanId, newTraceId } from '../telemetry/trace-context.js';
import { hostKey } from './cluster.js';
import type { ClusterSet } from './clusters.js';
import { firstHeader, headerBytes, outgoingHeaderBytes, recordRequest, socketAddress, type SidecarContext } from './context.js';
import { encodePeer, PLAINTEXT, servicePeer, UNKNOWN_PEER, type Peer } from './identity.js';
import { workloadSpiffeId } from '../identity/spiffe.js';
import { faultFilter } from './filters/fault.js';
import type { FilterCallbacks, OutboundFilter } from './filters/filter.js';
import { rescue, type Failure } from './local-reply.js';
import { Router } from './router/router.js';
import { causeOf, OutboundStream, type Attempt } from './stream.js';
import { nowMs } from './telemetry.js';

/** Like Envoy's per-request buffer limit: bodies are kept whole so a retry can resend them. */
export const MAX_BUFFERED_BODY = 1024 * 1024;

/** No bytes: the buffered body of a request without one (every try sends it), and an empty local reply. */
const EMPTY = Buffer.alloc(0);

/** A request without a body: there is nothing to read or keep. */
function isBodiless(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length === undefined || length === '0') && req.headers['transfer-encoding'] === undefined;
}

/** The body, or undefined once it passes the limit (the rest is drained, not kept). */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const { body, tooLarge } = await readBounded(req, MAX_BUFFERED_BODY);
  return tooLarge ? undefined : body;
}

export class Outbound implements FilterCallbacks {
  private sequence = 0;
  private readonly peerHeader: string;
  private readonly router: Router;
  /** The chain every request passes, in order: a new filter is one module and one line here. */
  private readonly filters: OutboundFilter[];

  constructor(
    readonly ctx: SidecarContext,
    readonly clusters: ClusterSet,
  ) {
    this.peerHeader = encodePeer(ctx.self);
    this.router = new Router({
      peerHeader: this.peerHeader,
      emitShadowSpan: (stream, spanId, name, startMs, attributes, status) => this.emitSpan(stream, spanId, name, startMs, nowMs(), attributes, status),
    });
    this.filters = [faultFilter, this.router];
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startMs = nowMs();
    req.setMaxListeners(64);
    const { authority, path } = destinationOf(req);
    const snapshot = this.ctx.snapshot();
    const parent = extractContext(req.headers);
    const stream = new OutboundStream(
      req, res, startMs,
      firstHeader(req.headers[HEADER.requestKey]) ?? `${this.ctx.boot.instance}.${this.sequence++}`,
      parent?.traceId ?? newTraceId(),
      parent?.spanId,
      parent?.sampled ?? true,
      firstHeader(req.headers[HEADER.requestId]) ?? newRequestId(),
      serviceFromAuthority(authority),
      authority,
      path,
      req.method ?? 'GET',
      snapshot?.seed ?? 0,
    );
    const body = isBodiless(req) ? EMPTY : await readBody(req).catch(() => undefined);
    if (body === undefined) {
      this.sendLocalReply(stream, { kind: 'payload-too-large', limit: MAX_BUFFERED_BODY });
      return;
    }
    stream.body = body;
    stream.bytesReceived = body.length;
    if (!snapshot) {
      this.sendLocalReply(stream, { kind: 'no-healthy-upstream' });
      return;
    }
    const entry = snapshot.services[stream.service];
    if (!entry) {
      this.sendLocalReply(stream, { kind: 'no-route' });
      return;
    }
    const virtualHost = virtualHostFor(snapshot.config, stream.service);
    const selected = selectRoute(virtualHost.routes, {
      path, method: stream.method, authority, headers: req.headers, port: entry.port,
      source: { app: this.ctx.self.app, version: this.ctx.self.version, namespace: this.ctx.self.namespace },
    });
    if (!selected) {
      stream.blame({ label: `VirtualService ${virtualHost.origin?.name ?? stream.service} (no http[] matched)`, where: virtualHost.origin?.where });
      this.sendLocalReply(stream, { kind: 'no-route' });
      return;
    }
    stream.route = selected.route;
    stream.matchIndex = selected.match;
    if (selected.route.ref.origin) stream.blame(causeOf(selected.route.ref));
    for (const filter of this.filters) {
      if ((await filter.decode(stream, this)) === 'stop') return;
    }
  }

  /** Every answer the sidecar makes itself goes through here (see local-reply.ts). */
  sendLocalReply(stream: OutboundStream, failure: Failure): void {
    if (stream.answered) return;
    stream.answered = true;
    const reply = rescue(failure, stream.attempts.length > 1);
    if (reply.flag) stream.addFlag(reply.flag);
    const { req, res } = stream;
    // Envoy's NR reply is empty; at the gateway a person is likely reading, so say how to address a service.
    const hint = failure.kind === 'no-route' && this.ctx.boot.mode === 'gateway' && !this.ctx.snapshot()?.services[stream.service]
      ? `no service \`${stream.service}\` in this mesh: name one in the Host header, e.g. curl -H 'Host: ${Object.keys(this.ctx.snapshot()?.services ?? {})[0] ?? 'SERVICE'}' http://${firstHeader(req.headers.host) ?? 'GATEWAY'}${stream.path}`
      : '';
    const text = hint || reply.body;
    const body = text === '' ? EMPTY : Buffer.from(text + '\n');
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(reply.status, { 'content-type': 'text/plain', 'content-length': body.length, ...reply.headers });
      res.end(body);
    }
    this.finish(stream, reply.status, reply.details, body.length, null);
  }

  finish(stream: OutboundStream, status: number, details: string, bytesSent: number, upstreamServiceTime: number | null): void {
    const endMs = nowMs();
    const last = stream.lastAttempt;
    // A Host that names no service of the mesh is not a label value: any caller could make endless series of them.
    const known = this.ctx.snapshot()?.services[stream.service] !== undefined;
    const service = known ? stream.service : 'unknown';
    // Istio learns the destination's labels from the host it sent to: with none (UH, UO, NR), they are all unknown.
    const destination: Peer = last ? servicePeer(service, last.endpoint.version) : UNKNOWN_PEER;
    const socket = last?.response?.socket;
    const { req, res } = stream;
    if (stream.sampled) this.traceAttempts(stream, status, endMs);
    recordRequest(this.ctx, {
      reporter: 'source',
      startMs: stream.startMs,
      endMs,
      method: stream.method,
      path: stream.path,
      authority: stream.authority,
      status,
      flags: stream.flags,
      details,
      bytesReceived: stream.bytesReceived,
      bytesSent,
      requestHeaderBytes: headerBytes(req.rawHeaders),
      responseHeaderBytes: outgoingHeaderBytes(res.getHeaders()),
      upstreamHost: last ? hostKey(last.endpoint) : null,
      upstreamCluster: stream.cluster?.name ?? `outbound|||${stream.service}`,
      upstreamServiceTime,
      attempts: stream.attempts.length,
      requestId: stream.requestId,
      traceparent: formatTraceparent(stream.traceId, stream.parentSpanId ?? '0000000000000001', stream.sampled),
      userAgent: firstHeader(req.headers['user-agent']) ?? null,
      forwardedFor: firstHeader(req.headers['x-forwarded-for']) ?? null,
      routeName: stream.route ? (stream.route.ref.origin ? stream.route.name ?? null : 'default') : null,
      upstreamLocalAddress: socket ? socketAddress(socket.localAddress, socket.localPort) : null,
      downstreamLocalAddress: socketAddress(req.socket.localAddress, req.socket.localPort),
      downstreamRemoteAddress: socketAddress(req.socket.remoteAddress, req.socket.remotePort),
      serverName: null,
      source: this.ctx.self,
      destination,
      destinationService: service,
      // The handshake checked the server's SPIFFE ID against the service's: that is the destination principal.
      security: last?.mtls
        ? { mtls: true, sourcePrincipal: this.ctx.tls?.spiffe, destinationPrincipal: workloadSpiffeId(service, this.ctx.boot.namespace, this.ctx.snapshot()?.services[service]?.serviceAccount) }
        : PLAINTEXT,
    });
  }

  /** One client span per attempt; a request that never left gets one span saying why. */
  private traceAttempts(stream: OutboundStream, status: number, endMs: number): void {
    const name = `${stream.authority}${stream.path.split('?')[0]}`;
    const flags = formatFlags(stream.flags);
    if (stream.attempts.length === 0) {
      this.emitSpan(stream, newSpanId(), name, stream.startMs, endMs, this.attributes(stream, status, flags, true, 0), status);
      return;
    }
    stream.attempts.forEach((attempt: Attempt, i) => {
      const final = i === stream.attempts.length - 1;
      let attemptStatus = status;
      let attemptFlags = flags;
      if (!final) {
        if (attempt.outcome.kind === 'response') {
          attemptStatus = attempt.outcome.status;
          attemptFlags = '-';
        } else {
          const reply = rescue(attempt.outcome.kind === 'overall-timeout' ? { kind: 'timeout' } : { kind: attempt.outcome.kind });
          attemptStatus = reply.status;
          attemptFlags = reply.flag ?? '-';
        }
      }
      const attributes = this.attributes(stream, attemptStatus, attemptFlags, final, attempt.number);
      attributes[ATTR.destinationVersion] = attempt.endpoint.version;
      attributes[ATTR.serverInstance] = attempt.endpoint.instance;
      attributes[ATTR.mtls] = attempt.mtls;
      this.emitSpan(stream, attempt.spanId, name, attempt.startMs, final ? endMs : attempt.endMs, attributes, attemptStatus);
    });
  }

  private attributes(stream: OutboundStream, status: number, flags: string, final: boolean, attempt: number): Record<string, AttributeValue> {
    const attributes: Record<string, AttributeValue> = {
      [ATTR.method]: stream.method,
      [ATTR.path]: stream.path,
      [ATTR.authority]: stream.authority,
      [ATTR.peerService]: stream.service,
      [ATTR.requestId]: stream.requestId,
      [ATTR.requestKey]: stream.key,
      [ATTR.status]: status,
      [ATTR.responseFlags]: flags,
      [ATTR.final]: final,
      [ATTR.attempt]: attempt,
      [ATTR.retry]: attempt > 1,
    };
    if (stream.cluster) attributes[ATTR.upstreamCluster] = stream.cluster.name;
    if (stream.route) attributes[ATTR.route] = routeLabel(stream.route);
    if (stream.fault) attributes[ATTR.fault] = stream.fault;
    if (final && stream.cause) {
      attributes[ATTR.ruleName] = stream.cause.label;
      if (stream.cause.where) attributes[ATTR.rule] = stream.cause.where;
    }
    return attributes;
  }

  private emitSpan(stream: OutboundStream, spanId: string, name: string, startMs: number, endMs: number, attributes: Record<string, AttributeValue>, status: number): void {
    const span: Span = {
      traceId: stream.traceId,
      spanId,
      parentSpanId: stream.parentSpanId,
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

  close(): void {
    this.clusters.close();
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
