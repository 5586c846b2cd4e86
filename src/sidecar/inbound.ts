// The inbound side of a sidecar: every request to the service passes here on its way
// to the app. It learns who called (the client certificate's SPIFFE ID over mutual
// TLS, and Istio's metadata exchange), enforces the workload's AuthorizationPolicies,
// continues the caller's trace (W3C, or B3 when that is what came), records the server
// span and the reporter="destination" metrics, and logs the request.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { loopbackAgent } from '../loopback/pod-loopback.js';
import { HEADER, serviceFqdn } from '../control/protocol.js';
import { formatFlags, type ResponseFlag } from '../policy/flags.js';
import { authorize } from '../policy/security.js';
import { namespaceOfPrincipal, principalOf, spiffeFromAltNames } from '../identity/spiffe.js';
import { rescue, type Failure } from './local-reply.js';
import { ATTR, type Span } from '../telemetry/span.js';
import { extractContext, formatTraceparent, newRequestId, newSpanId, newTraceId } from '../telemetry/trace-context.js';
import { decodePeer, PLAINTEXT, type ConnectionSecurity } from './identity.js';
import { firstHeader, headerBytes, outgoingHeaderBytes, recordRequest, socketAddress, type SidecarContext } from './context.js';
import { nowMs } from './telemetry.js';
import { podLabelsOf } from '../identity/labels.js';
import { inboundBindAddress } from './inbound-bind.js';
import { relayRequest } from './upstream-http.js';

/** What the app's answer was, kept on the response itself (cheaper than a WeakMap per request). */
const UPSTREAM = Symbol('upstream');
interface UpstreamFacts {
  bytes: number;
  headerBytes: number;
  serviceTimeMs: number | null;
  localAddress: string | null;
}
type CountedResponse = ServerResponse & { [UPSTREAM]?: UpstreamFacts };
/** When the request went on to the app: the start of upstream_service_time. */
const SENT_AT = Symbol('sentAt');
type SentRequest = IncomingMessage & { [SENT_AT]?: number };

/** The caller's SPIFFE ID, read once per connection. */
const PEER_SPIFFE = Symbol('peerSpiffe');
type IdentifiedSocket = TLSSocket & { [PEER_SPIFFE]?: string | null };

function connectionSecurity(req: IncomingMessage, ownSpiffe: string | undefined): ConnectionSecurity {
  const socket = req.socket as IdentifiedSocket;
  if (!socket.encrypted) return PLAINTEXT;
  if (socket[PEER_SPIFFE] === undefined) socket[PEER_SPIFFE] = spiffeFromAltNames(socket.getPeerCertificate().subjectaltname) ?? null;
  return { mtls: true, sourcePrincipal: socket[PEER_SPIFFE] ?? undefined, destinationPrincipal: ownSpiffe };
}


export class Inbound {
  // To the app over the pod's loopback (in memory when both share a node), from Istio's 127.0.0.6.
  private readonly target: { host: string; port: number; agent: http.Agent };
  private readonly cluster: string;
  private readonly workload: { namespace: string; labels: Record<string, string> };

  constructor(private readonly ctx: SidecarContext) {
    this.workload = { namespace: ctx.boot.namespace, labels: podLabelsOf(ctx.boot.service, ctx.boot.version) };
    const app = ctx.boot.app!;
    const agent = loopbackAgent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo', localAddress: inboundBindAddress(app.host) });
    this.target = { host: app.host, port: app.port, agent };
    // Istio names the inbound cluster by the service's port, not the port the app happens to listen on.
    this.cluster = `inbound|${ctx.boot.servicePort}||`;
  }

  /** What the app's answer was, noted before it is copied down. */
  private static noteAnswer(req: IncomingMessage, res: ServerResponse, answer: IncomingMessage): void {
    const facts: UpstreamFacts = {
      bytes: 0,
      headerBytes: headerBytes(answer.rawHeaders),
      serviceTimeMs: nowMs() - ((req as SentRequest)[SENT_AT] ?? nowMs()),
      localAddress: socketAddress(answer.socket?.localAddress, answer.socket?.localPort),
    };
    (res as CountedResponse)[UPSTREAM] = facts;
    // Most apps say how long their answer is; only the others' bodies are counted as they pass.
    const length = Number(answer.headers['content-length']);
    if (Number.isFinite(length)) facts.bytes = length;
    else answer.on('data', (chunk: Buffer) => (facts.bytes += chunk.length));
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
    // delete turns the headers object slow for the copy sent on: only when needed.
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
    const security = connectionSecurity(req, this.ctx.tls?.spiffe);

    let flags: ResponseFlag[] = [];
    let details = 'via_upstream';
    let denied: { policy: string; name: string | undefined; where: string | undefined } | undefined;
    let localBytes = 0;
    let localHeaderBytes = 0;
    let done = false;
    const finish = (status: number) => {
      if (done) return;
      done = true;
      const endMs = nowMs();
      const path = req.url ?? '/';
      const authority = firstHeader(req.headers.host) ?? '';
      const { boot, self } = this.ctx;
      const port = this.ctx.snapshot()?.services[boot.service]?.port ?? 0;
      const upstream = (res as CountedResponse)[UPSTREAM];
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
          [ATTR.connectionSecurity]: security.mtls ? 'mutual_tls' : 'none',
        },
        error: status === 0 || status >= 500,
      };
      if (requestKey) span.attributes[ATTR.requestKey] = requestKey;
      if (security.sourcePrincipal) span.attributes[ATTR.peerPrincipal] = security.sourcePrincipal;
      if (denied) {
        span.attributes[ATTR.ruleName] = denied.name ? `AuthorizationPolicy ${denied.name} (${denied.policy})` : `AuthorizationPolicy (${denied.policy})`;
        if (denied.where) span.attributes[ATTR.rule] = denied.where;
      }
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
        bytesSent: upstream?.bytes ?? localBytes,
        requestHeaderBytes: headerBytes(req.rawHeaders),
        responseHeaderBytes: upstream?.headerBytes ?? localHeaderBytes,
        upstreamHost: upstream || !denied ? `${this.target.host}:${this.target.port}` : null,
        upstreamCluster: this.cluster,
        upstreamServiceTime: upstream?.serviceTimeMs ?? null,
        attempts: 1,
        requestId,
        traceparent,
        userAgent: firstHeader(req.headers['user-agent']) ?? null,
        forwardedFor: firstHeader(req.headers['x-forwarded-for']) ?? null,
        routeName: 'default',
        upstreamLocalAddress: upstream?.localAddress ?? null,
        downstreamLocalAddress: socketAddress(req.socket.localAddress, req.socket.localPort),
        downstreamRemoteAddress: socketAddress(req.socket.remoteAddress, req.socket.remotePort),
        serverName: (req.socket as TLSSocket).servername || null,
        source,
        destination: self,
        destinationService: boot.service,
        security,
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
    /** Every answer this side makes itself (see local-reply.ts). */
    const sendLocalReply = (failure: Failure) => {
      const reply = rescue(failure);
      if (reply.flag) flags = [...flags, reply.flag];
      details = reply.details;
      const body = `${reply.body}\n`;
      const headers = { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), ...reply.headers };
      localBytes = Buffer.byteLength(body);
      localHeaderBytes = outgoingHeaderBytes(headers);
      res.writeHead(reply.status, headers).end(body);
    };
    const config = this.ctx.snapshot()?.config;
    if (config && config.authorizations.length > 0) {
      const principal = security.sourcePrincipal ? principalOf(security.sourcePrincipal) : undefined;
      const decision = authorize(config.authorizations, this.workload, {
        principal,
        namespace: principal ? namespaceOfPrincipal(principal) : undefined,
        method: req.method ?? 'GET',
        path: (req.url ?? '/').split('?')[0]!,
        host: firstHeader(req.headers.host) ?? '',
        port: this.ctx.boot.servicePort,
        headers: req.headers,
      });
      if (!decision.allowed) {
        denied = { policy: decision.policy, name: decision.origin?.name, where: decision.origin?.where };
        req.resume();
        sendLocalReply({ kind: 'rbac-denied', policy: decision.policy });
        return;
      }
    }
    (req as SentRequest)[SENT_AT] = nowMs();
    relayRequest(req, res, this.target, () => {
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      sendLocalReply({ kind: 'connect-failure' });
    }, (answer) => Inbound.noteAnswer(req, res, answer));
  }

  close(): void {
    this.target.agent.destroy();
  }
}
