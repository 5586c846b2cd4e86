// How a sidecar speaks HTTP/1.1 to the next hop and copies the answer back, for every
// path that forwards a request (inbound to the app, the router's attempts, mirrors,
// and a pod without a sidecar). Headers that describe one connection stay on it, as
// Envoy's connection manager removes them (ConnectionManagerUtility): from a request
// Connection, Upgrade, Keep-Alive, Proxy-Connection and Transfer-Encoding, and TE unless
// it asks for trailers; from a response Connection, Upgrade, Keep-Alive, Proxy-Connection
// and Transfer-Encoding. Each connection frames its own messages, so a caller's
// `Connection: close` never closes a pooled upstream connection, and an upstream's
// chunking is not copied onto a download that Node frames again.
//
// This is the request path's own code on purpose: http-proxy did the same through a
// chain of passes and per-header calls, which cost 10-40 µs of CPU a request
// (`npm run bench -- sidecar`, http-proxy against the bare forwarder).

import http, { type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';

const REQUEST_HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding']);
const RESPONSE_HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding']);

type HeaderCopy = Record<string, string | string[]>;

function copyWithout(headers: IncomingHttpHeaders, dropped: ReadonlySet<string>): HeaderCopy {
  const copy: HeaderCopy = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !dropped.has(name)) copy[name] = value;
  }
  return copy;
}

/** A request's headers as they go on to the next hop. */
export function onwardRequestHeaders(headers: IncomingHttpHeaders): HeaderCopy {
  const copy = copyWithout(headers, REQUEST_HOP_BY_HOP);
  // Envoy keeps TE only as `trailers` (gRPC asks for them), and drops any other value.
  const te = copy.te;
  if (te !== undefined) {
    if (/(^|,)\s*trailers\s*(;|,|$)/i.test(String(te))) copy.te = 'trailers';
    else delete copy.te;
  }
  return copy;
}

/** An answer's headers as they go back to the caller. */
export function returnedResponseHeaders(headers: IncomingHttpHeaders): HeaderCopy {
  return copyWithout(headers, RESPONSE_HOP_BY_HOP);
}

export interface UpstreamCall {
  protocol: 'http:' | 'https:';
  host: string;
  port: number;
  agent: http.Agent;
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  /** The whole body, or the caller's request to stream through (read as it comes). */
  body: Buffer | IncomingMessage;
  /** Milliseconds of socket silence before 'timeout' (none if unset). */
  timeoutMs?: number;
}

/** Starts the request; its 'response' and 'error' are the caller's to handle. */
export function callUpstream(call: UpstreamCall): ClientRequest {
  const request = (call.protocol === 'https:' ? https : http).request({
    host: call.host, port: call.port, method: call.method, path: call.path, headers: call.headers, agent: call.agent,
    ...(call.timeoutMs !== undefined ? { timeout: call.timeoutMs } : {}),
  });
  const { body } = call;
  if (Buffer.isBuffer(body)) {
    if (body.length > 0) request.end(body);
    else request.end();
  } else {
    body.pipe(request);
  }
  return request;
}

/**
 * Forwards `req` as it came (less the headers about its connection) and streams the
 * answer to `res`; a downstream that goes away takes the upstream request with it.
 * `failed` hears of a request that got no answer, `answered` of the upstream response
 * before it is copied.
 */
export function relayRequest(
  req: IncomingMessage,
  res: http.ServerResponse,
  target: { host: string; port: number; agent: http.Agent; path?: string },
  failed: (error: NodeJS.ErrnoException) => void,
  answered?: (response: IncomingMessage) => void,
): ClientRequest {
  const upstream = callUpstream({
    protocol: 'http:', host: target.host, port: target.port, agent: target.agent,
    method: req.method ?? 'GET', path: target.path ?? req.url ?? '/', headers: onwardRequestHeaders(req.headers), body: req,
  });
  res.once('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  upstream.on('error', failed);
  upstream.once('response', (response) => {
    answered?.(response);
    if (res.destroyed) {
      response.resume();
      return;
    }
    res.writeHead(response.statusCode ?? 502, returnedResponseHeaders(response.headers));
    pipeAnswer(response, res);
  });
  return upstream;
}

/**
 * Streams an upstream answer whose head is written. An upstream reset midway resets the
 * download too, as Envoy resets the downstream stream: the caller sees a cut answer, not
 * one that never ends.
 */
export function pipeAnswer(response: IncomingMessage, res: http.ServerResponse): void {
  response.once('error', () => res.destroy());
  response.pipe(res);
}
