// The router filter, the last in the chain, as Envoy's router.cc: it draws the route's
// destination by weight, answers configured responses and redirects, sends the mirrors,
// then tries upstream hosts (connection pool first, the route's timeout over all tries,
// retries as the retry state allows) until an answer is final, and streams it down or
// has it answered locally with the reason.

import type { IncomingMessage } from 'node:http';
import { HEADER } from '../../control/protocol.js';
import { unit } from '../../policy/decide.js';
import { pickWeighted } from '../../policy/routing.js';
import type { Failure } from '../local-reply.js';
import type { FilterCallbacks, FilterStatus, OutboundFilter } from '../filters/filter.js';
import { causeOf, type OutboundStream } from '../stream.js';
import { nowMs } from '../telemetry.js';
import { hostKey } from '../cluster.js';
import { RetryState, type RetryStatus } from './retry-state.js';
import { shadow, type SpanSink } from './shadow-writer.js';
import { outlierStatus, sendAttempt, type Attempt } from './upstream-request.js';
import { pipeAnswer, returnedResponseHeaders } from '../upstream-http.js';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True once `granted` resolves, false if `ms` pass first; no timer outlives the wait. */
function waitFor(granted: Promise<void>, ms: number): Promise<boolean> {
  if (ms === Infinity) return granted.then(() => true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), Math.max(0, ms));
    void granted.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** The path after a route's `rewrite.uri`: the matched prefix replaced, or the whole path. */
export function rewritePath(stream: OutboundStream, uri: string): string {
  const [path, query] = [stream.path.split('?')[0]!, stream.path.includes('?') ? stream.path.slice(stream.path.indexOf('?')) : ''];
  const matched = stream.matchIndex >= 0 ? stream.route?.matches[stream.matchIndex]?.uri : undefined;
  if (matched?.kind === 'prefix') return `${uri}${path.slice(matched.value.length)}${query}`;
  return `${uri}${query}`;
}

export interface RouterOptions {
  peerHeader: string;
  emitShadowSpan: SpanSink;
}

export class Router implements OutboundFilter {
  readonly name = 'router';

  constructor(private readonly options: RouterOptions) {}

  async decode(stream: OutboundStream, callbacks: FilterCallbacks): Promise<FilterStatus> {
    const route = stream.route!;
    if (route.directResponse) {
      callbacks.sendLocalReply(stream, { kind: 'direct-response', status: route.directResponse.status, body: route.directResponse.body });
      return 'stop';
    }
    if (route.redirect) {
      const authority = route.redirect.authority ?? stream.authority;
      callbacks.sendLocalReply(stream, { kind: 'redirect', status: route.redirect.code, location: `http://${authority}${route.redirect.uri ?? stream.path}` });
      return 'stop';
    }
    const destination = pickWeighted(route.destinations, unit(stream.seed, 'route', stream.key));
    if (!destination) {
      callbacks.sendLocalReply(stream, { kind: 'no-route' });
      return 'stop';
    }
    stream.destination = destination;
    const lookup = callbacks.clusters.get(destination.host, destination.subset);
    if (!('cluster' in lookup)) {
      callbacks.sendLocalReply(stream, { kind: lookup.missing === 'subset' ? 'no-cluster' : 'no-route' });
      return 'stop';
    }
    const cluster = lookup.cluster;
    stream.cluster = cluster;
    if (route.rewrite?.uri !== undefined) stream.upstreamPath = rewritePath(stream, route.rewrite.uri);
    if (route.rewrite?.authority !== undefined) stream.req.headers.host = route.rewrite.authority;
    stream.responseHeaderOps = destination.responseHeaders ?? route.responseHeaders;
    if (route.mirrors.length > 0) shadow(stream, route.mirrors, callbacks.clusters, this.options.peerHeader, this.options.emitShadowSpan);
    await this.forward(stream, callbacks);
    return 'stop';
  }

  /** Tries the upstream until an answer is final, then streams it or replies locally. */
  private async forward(stream: OutboundStream, callbacks: FilterCallbacks): Promise<void> {
    const route = stream.route!;
    const cluster = stream.cluster!;
    const { metrics } = callbacks.ctx;
    const deadline = route.timeoutMs !== undefined ? nowMs() + route.timeoutMs : Infinity;
    const retries = new RetryState(route.retries, cluster, stream.seed, stream.key);
    const tried = new Set<string>();
    let last: RetryStatus = 'no';
    const fail = (failure: Failure) => {
      retries.release();
      callbacks.sendLocalReply(stream, failure);
    };
    for (let number = 1; ; number++) {
      const endpoint = cluster.pick(retries.avoidTried ? tried : new Set(),
        unit(stream.seed, 'host', stream.key, String(number)), unit(stream.seed, 'host2', stream.key, String(number)));
      if (!endpoint) {
        if (stream.attempts.length > 0) break;
        const od = cluster.trafficPolicy.outlierDetection;
        if (cluster.size > 0 && od) stream.blame({ label: od.label, where: od.where });
        fail({ kind: 'no-healthy-upstream' });
        return;
      }
      const admission = cluster.pool.acquire();
      if (admission.admission === 'overflow') {
        metrics.overflow.inc({ cluster_name: cluster.name });
        const pool = cluster.trafficPolicy.connectionPool;
        if (pool.label) stream.blame({ label: pool.label, where: pool.where });
        fail({ kind: 'overflow' });
        return;
      }
      if (admission.admission === 'queued') {
        const granted = await waitFor(admission.granted, deadline - nowMs());
        if (!granted) {
          admission.cancel();
          metrics.timeouts.inc({ cluster_name: cluster.name });
          stream.blame(causeOf(route.ref, 'timeout', route.timeoutWhere));
          fail({ kind: 'timeout' });
          return;
        }
      }
      tried.add(hostKey(endpoint));
      if (number > 1) metrics.retries.inc({ cluster_name: cluster.name });
      const attempt = await sendAttempt({
        stream, cluster, endpoint, number,
        untilDeadline: deadline - nowMs(),
        perTryTimeoutMs: route.retries.perTryTimeoutMs,
        peerHeader: this.options.peerHeader,
        requestHeaders: destinationHeaders(stream) ?? route.requestHeaders,
      });
      stream.attempts.push(attempt);
      cluster.record(endpoint, outlierStatus(attempt.outcome), nowMs());
      const release = () => cluster.pool.release();
      if (attempt.response) attempt.response.once('close', release);
      else release();
      last = retries.shouldRetry(attempt.outcome);
      if (last === 'overflow') stream.addFlag('UO');
      if (last !== 'retry' || stream.downstreamGone) break;
      attempt.response?.resume();
      const pause = retries.backoff();
      if (nowMs() + pause >= deadline) break;
      await sleep(pause);
    }
    retries.release();
    this.deliver(stream, callbacks, last);
  }

  /** Sends the final answer downstream: the upstream's response, or a local reply saying why. */
  private deliver(stream: OutboundStream, callbacks: FilterCallbacks, status: RetryStatus): void {
    const last = stream.lastAttempt!;
    const route = stream.route!;
    const outcome = last.outcome;
    // Envoy sets URX when it would have retried but the retries had run out.
    if (status === 'limit-exceeded') {
      stream.addFlag('URX');
      stream.blame(causeOf(route.ref, 'retries', route.retries.where));
    }
    const cluster = stream.cluster!;
    switch (outcome.kind) {
      case 'response':
        this.streamResponse(stream, callbacks, last, last.response!, outcome.status);
        return;
      case 'overall-timeout':
        callbacks.ctx.metrics.timeouts.inc({ cluster_name: cluster.name });
        stream.blame(causeOf(route.ref, 'timeout', route.timeoutWhere));
        callbacks.sendLocalReply(stream, { kind: 'timeout' });
        return;
      case 'per-try-timeout':
        callbacks.ctx.metrics.timeouts.inc({ cluster_name: cluster.name });
        stream.blame(causeOf(route.ref, 'retries.perTryTimeout', route.retries.where));
        callbacks.sendLocalReply(stream, { kind: 'per-try-timeout' });
        return;
      case 'connect-failure':
      case 'reset':
        callbacks.sendLocalReply(stream, { kind: outcome.kind });
    }
  }

  private streamResponse(stream: OutboundStream, callbacks: FilterCallbacks, last: Attempt, response: IncomingMessage, status: number): void {
    const { res } = stream;
    const upstreamTime = Math.round(last.endMs - last.startMs);
    const headers = returnedResponseHeaders(response.headers);
    headers[HEADER.upstreamServiceTime] = String(upstreamTime);
    const ops = stream.responseHeaderOps;
    if (ops) {
      for (const name of ops.remove) delete headers[name];
      for (const [name, value] of Object.entries(ops.add)) headers[name] = headers[name] === undefined ? value : [...[headers[name]!].flat(), value];
      Object.assign(headers, ops.set);
    }
    stream.answered = true;
    let sent = 0;
    response.on('data', (chunk: Buffer) => (sent += chunk.length));
    if (res.destroyed) {
      response.resume();
    } else {
      res.writeHead(status, headers);
      pipeAnswer(response, res);
    }
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      last.endMs = nowMs();
      callbacks.finish(stream, status, 'via_upstream', sent, upstreamTime);
    };
    res.once('finish', finish);
    res.once('close', () => {
      if (res.writableFinished) return;
      stream.addFlag('DC');
      finish();
    });
  }
}

function destinationHeaders(stream: OutboundStream) {
  return stream.destination?.requestHeaders;
}
