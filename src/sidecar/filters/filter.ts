// The outbound filter chain's contract, as Envoy's decoder filters: each filter sees the
// request's stream in turn and either lets it continue to the next or stops it, having
// answered (through the one local-reply function) or handed it on for good (the router).

import type { Failure } from '../local-reply.js';
import type { SidecarContext } from '../context.js';
import type { ClusterSet } from '../clusters.js';
import type { OutboundStream } from '../stream.js';

export type FilterStatus = 'continue' | 'stop';

/** What a filter may call on: the sidecar, its clusters, and the one way to answer locally. */
export interface FilterCallbacks {
  readonly ctx: SidecarContext;
  readonly clusters: ClusterSet;
  sendLocalReply(stream: OutboundStream, failure: Failure): void;
  /** The answer has gone (or the caller has): log, count and trace the request, once. */
  finish(stream: OutboundStream, status: number, details: string, bytesSent: number, upstreamServiceTime: number | null): void;
}

export interface OutboundFilter {
  readonly name: string;
  decode(stream: OutboundStream, callbacks: FilterCallbacks): FilterStatus | Promise<FilterStatus>;
}
