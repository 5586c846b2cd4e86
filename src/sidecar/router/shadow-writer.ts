// Mirroring, as Envoy's shadow writer: a copy of the request goes to each mirror's
// cluster, fire and forget, with `-shadow` appended to its Host, its answer discarded.
// Each copy is its own client span in the request's trace.

import { HEADER } from '../../control/protocol.js';
import type { MirrorPolicy } from '../../policy/config.js';
import { chance, unit } from '../../policy/decide.js';
import { ATTR } from '../../telemetry/span.js';
import { formatTraceparent, newSpanId } from '../../telemetry/trace-context.js';
import type { ClusterSet } from '../clusters.js';
import type { OutboundStream } from '../stream.js';
import { nowMs } from '../telemetry.js';
import { callUpstream, onwardRequestHeaders } from '../upstream-http.js';

const NOTHING_TRIED: ReadonlySet<string> = new Set();
const SHADOW_TIMEOUT_MS = 30_000;

export type SpanSink = (stream: OutboundStream, spanId: string, name: string, startMs: number, attributes: Record<string, string | number | boolean>, status: number) => void;

/** Sends the copies the route's mirrors draw for this request. */
export function shadow(stream: OutboundStream, mirrors: readonly MirrorPolicy[], clusters: ClusterSet, peerHeader: string, emit: SpanSink): void {
  mirrors.forEach((mirror, i) => {
    if (!chance(mirror.percentage, stream.seed, 'mirror', stream.key, String(i))) return;
    const lookup = clusters.get(mirror.host, mirror.subset);
    if (!('cluster' in lookup)) return;
    const { cluster } = lookup;
    const endpoint = cluster.pick(NOTHING_TRIED, unit(stream.seed, 'host', stream.key, `mirror${i}`), unit(stream.seed, 'host2', stream.key, `mirror${i}`));
    if (!endpoint) return;
    const spanId = newSpanId();
    const startMs = nowMs();
    const headers = onwardRequestHeaders(stream.req.headers);
    const [host, port] = stream.authority.split(':');
    headers.host = `${mirror.host === stream.service ? host : mirror.host}-shadow${port ? `:${port}` : ''}`;
    headers.traceparent = formatTraceparent(stream.traceId, spanId, stream.sampled);
    headers[HEADER.requestKey] = `${stream.key}!m${i === 0 ? '' : i}`;
    headers[HEADER.peer] = peerHeader;
    headers['content-length'] = String(stream.body.length);
    const record = (status: number) => {
      if (!stream.sampled) return;
      emit(stream, spanId, `${headers.host}${stream.path.split('?')[0]}`, startMs, {
        [ATTR.method]: stream.method, [ATTR.path]: stream.path, [ATTR.status]: status, [ATTR.peerService]: mirror.host,
        [ATTR.final]: false, [ATTR.attempt]: 1, [ATTR.retry]: false, [ATTR.destinationVersion]: endpoint.version,
        [ATTR.upstreamCluster]: cluster.name, [ATTR.mirror]: true,
      }, status);
    };
    const transport = cluster.transport(endpoint);
    const copy = callUpstream({
      protocol: transport.protocol, host: endpoint.host, port: endpoint.port, agent: transport.agent,
      method: stream.method, path: stream.upstreamPath, headers, body: stream.body, timeoutMs: SHADOW_TIMEOUT_MS,
    });
    copy.once('response', (response) => {
      response.resume();
      response.on('end', () => record(response.statusCode ?? 0));
    });
    copy.on('timeout', () => copy.destroy());
    copy.on('error', () => record(503));
  });
}
