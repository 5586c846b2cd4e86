// One request through a sidecar's outbound side, as Envoy's active stream and its
// StreamInfo: who sent it and where it goes, the route it matched, every attempt made,
// the response flags and the rule that shaped the outcome. The connection manager makes
// one, each filter reads and adds to it, and telemetry is written from it at the end.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpRoute, RouteDestination, RuleRef } from '../policy/config.js';
import type { ResponseFlag } from '../policy/flags.js';
import type { AttemptOutcome } from '../policy/retry.js';
import type { Endpoint } from '../control/protocol.js';
import type { Cluster } from './cluster.js';

export type Outcome = AttemptOutcome | { kind: 'overall-timeout' };

/** One try at an upstream host: its own client span. */
export interface Attempt {
  number: number;
  endpoint: Endpoint;
  spanId: string;
  startMs: number;
  endMs: number;
  outcome: Outcome;
  response: IncomingMessage | undefined;
  /** Sent over mutual TLS (the server proved its SPIFFE ID in the handshake). */
  mtls: boolean;
}

/** The rule named as a failure's cause: `VirtualService reviews http[0]` at FILE:LINE. */
export interface Cause {
  label: string;
  where: string | undefined;
}

export function causeOf(ref: RuleRef | undefined, field?: string, where?: string): Cause | undefined {
  if (!ref) return undefined;
  const base = ref.origin ? `${ref.origin.kind} ${ref.origin.name} ${ref.rule}` : ref.rule;
  return { label: field ? `${base}.${field}` : base, where: where ?? ref.where };
}

export class OutboundStream {
  readonly flags: ResponseFlag[] = [];
  readonly attempts: Attempt[] = [];
  route: HttpRoute | undefined;
  /** Which of the route's matches held (-1: it matches everything). */
  matchIndex = -1;
  destination: RouteDestination | undefined;
  cluster: Cluster | undefined;
  cause: Cause | undefined;
  fault: 'delay' | 'abort' | undefined;
  /** The path sent upstream, after a rewrite. */
  upstreamPath: string;
  /** Response headers the route adds, set and removes. */
  responseHeaderOps: HttpRoute['responseHeaders'];
  bytesReceived = 0;
  body: Buffer = Buffer.alloc(0);
  /** Set once the answer is decided: nothing may be written twice. */
  answered = false;
  private resetHandlers: Array<() => void> = [];

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly startMs: number,
    readonly key: string,
    readonly traceId: string,
    readonly parentSpanId: string | undefined,
    readonly sampled: boolean,
    readonly requestId: string,
    /** The destination service, from the authority. */
    readonly service: string,
    readonly authority: string,
    readonly path: string,
    readonly method: string,
    readonly seed: number,
  ) {
    this.upstreamPath = path;
    // The app hung up first (its own timeout fired): whatever is in flight is reset.
    res.once('close', () => {
      for (const handler of this.resetHandlers) handler();
      this.resetHandlers = [];
    });
  }

  /** Runs `handler` if the downstream goes away; returns a function that cancels it. */
  onDownstreamReset(handler: () => void): () => void {
    this.resetHandlers.push(handler);
    return () => {
      this.resetHandlers = this.resetHandlers.filter((h) => h !== handler);
    };
  }

  get downstreamGone(): boolean {
    return this.res.destroyed && !this.res.writableFinished;
  }

  addFlag(flag: ResponseFlag): void {
    if (!this.flags.includes(flag)) this.flags.push(flag);
  }

  blame(cause: Cause | undefined): void {
    if (cause) this.cause = cause;
  }

  get lastAttempt(): Attempt | undefined {
    return this.attempts[this.attempts.length - 1];
  }
}
