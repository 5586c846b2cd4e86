// The load that enters the mesh, per flow: open loop (arrivals at the flow's rate, drawn
// from the seed, never waiting for answers), closed loop (fortio's -c: `concurrency`
// requests kept in flight, the next sent as one is answered), or both (a rate cap on a
// closed loop), each up to `requests` if given. Sent to the ingress gateway with the
// flow's Host, path and headers. Bounded: it stops when told, caps what may be in flight,
// and reports every request it sent (answered, failed, or unanswered at the end).

import { Pool } from 'undici';
import type { TrafficFlow } from '../scenario/model.js';
import { DEGRADED_HEADER, HEADER } from '../control/protocol.js';
import { gapMs, requestKey } from './arrivals.js';
import type { Address } from '../runtime/runtime.js';
import { tcpExchange } from './tcp-exchange.js';

export interface TrafficCounts {
  sent: number;
  answered: number;
  /** Sent, but no answer came before the run ended: counted, not lost. */
  unanswered: number;
  /** The gateway could not be reached or the connection broke. */
  failed: number;
  /** Not sent because too many were in flight: the mesh could not keep up. */
  skipped: number;
  statuses: Record<string, number>;
}

/** What became of one request, as its client saw it. */
export interface RequestResult {
  flow: TrafficFlow;
  n: number;
  /** performance.now() when it was sent. */
  sentAt: number;
  /** The status, or 0 when the connection failed. */
  status: number;
  latencyMs: number;
  /** The answer was degraded: a service took its fallback for a failed call. */
  degraded: boolean;
}

export interface TrafficListener {
  sent?(flow: TrafficFlow, n: number): void;
  answered?(result: RequestResult): void;
}

interface FlowState {
  flow: TrafficFlow;
  /** The next request number. */
  n: number;
  /** Open loop and rate cap: the next scheduled arrival (performance.now() time). */
  nextAt: number;
  inFlight: Set<number>;
  /** Requests still in flight when the run gave up waiting: never answered, whatever comes later. */
  abandoned: Set<number>;
  /** Rate-capped closed loop: arrivals waiting for a free place. */
  waiting: number;
  /** Closed loop: when each recent request was sent (request `sendsFrom` first), to place window boundaries. */
  sends: number[];
  sendsFrom: number;
}

/** How long a closed loop remembers when it sent each request: timeline events are handled well within it. */
const SEND_MEMORY_MS = 30_000;

/** Most arrivals fired in one timer turn, so a stalled loop catches up without freezing. */
const MAX_BURST = 2000;

function isOpenLoop(flow: TrafficFlow): boolean {
  return flow.rps !== undefined && flow.concurrency === undefined;
}

export class TrafficGenerator {
  private readonly flows = new Map<string, FlowState>();
  private readonly pool: Pool;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** No request scheduled at or after this (performance.now() time) is sent. */
  private endAt = Infinity;
  private inFlight = 0;
  private drained: (() => void) | undefined;
  readonly counts: TrafficCounts = { sent: 0, answered: 0, unanswered: 0, failed: 0, skipped: 0, statuses: {} };

  constructor(
    private readonly target: Address,
    private readonly seed: number,
    private readonly ports: Record<string, number>,
    private readonly maxInFlight = 4000,
    private readonly listener: TrafficListener = {},
    /** Services that speak TCP: their flows open a connection each (src/traffic/tcp-exchange.ts). */
    private readonly tcp: ReadonlySet<string> = new Set(),
  ) {
    this.pool = new Pool(`http://${target.host}:${target.port}`, {
      connections: 512,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /**
   * Starts, or changes, the flows; a flow that keeps its id keeps its request numbers.
   * `at` is when the change takes effect (performance.now() time; by default now): a
   * flow whose rate changes draws its next arrival from there, so a timeline event's
   * change lands at its scenario time, not when the event loop got round to it.
   */
  setFlows(flows: TrafficFlow[], at = performance.now()): void {
    const keep = new Set(flows.map((f) => f.id));
    for (const id of [...this.flows.keys()]) if (!keep.has(id)) this.flows.delete(id);
    for (const flow of flows) {
      const existing = this.flows.get(flow.id);
      if (existing) {
        const rateChanged = existing.flow.rps !== flow.rps || existing.flow.arrival !== flow.arrival;
        existing.flow = flow;
        if (rateChanged) existing.nextAt = at + this.gap(flow, existing.n);
      } else {
        this.flows.set(flow.id, { flow, n: 0, nextAt: at + this.gap(flow, 0), inFlight: new Set(), abandoned: new Set(), waiting: 0, sends: [], sendsFrom: 0 });
      }
    }
    if (this.running) {
      this.schedule();
      for (const state of this.flows.values()) this.fillClosedLoop(state);
    }
  }

  private gap(flow: TrafficFlow, n: number): number {
    return flow.rps === undefined ? Infinity : gapMs(this.seed, flow.id, n, flow.rps, flow.arrival);
  }

  /** Starts the flows now; with `durationMs`, nothing scheduled after that is sent. */
  start(flows: TrafficFlow[], durationMs = Infinity): void {
    const now = performance.now();
    this.endAt = now + durationMs;
    this.running = true;
    this.setFlows(flows, now);
  }

  private done(state: FlowState): boolean {
    return state.flow.requests !== undefined && state.n >= state.flow.requests;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    let next = Infinity;
    for (const state of this.flows.values()) if (state.flow.rps !== undefined && !this.done(state)) next = Math.min(next, state.nextAt);
    if (next === Infinity || next >= this.endAt) return;
    this.timer = setTimeout(() => this.tick(), Math.max(0, next - performance.now()));
  }

  private tick(): void {
    if (!this.running) return;
    const now = performance.now();
    let fired = 0;
    for (const state of this.flows.values()) {
      if (state.flow.rps === undefined) continue;
      while (state.nextAt <= now && state.nextAt < this.endAt && fired < MAX_BURST && !this.done(state)) {
        fired++;
        const scheduled = state.n + state.waiting;
        state.nextAt += this.gap(state.flow, scheduled + 1);
        if (isOpenLoop(state.flow)) this.fire(state);
        else if (state.waiting < state.flow.concurrency! * 10) {
          state.waiting++;
          this.fillClosedLoop(state);
        } else {
          this.counts.skipped++;
        }
      }
    }
    this.schedule();
  }

  /** A closed loop keeps its places filled: at once, or (with a rate cap) as arrivals allow. */
  private fillClosedLoop(state: FlowState): void {
    const { flow } = state;
    if (!this.running || flow.concurrency === undefined || performance.now() >= this.endAt) return;
    while (state.inFlight.size < flow.concurrency && !this.done(state)) {
      if (flow.rps !== undefined) {
        if (state.waiting === 0) return;
        state.waiting--;
      }
      if (!this.fire(state)) return;
    }
  }

  /** Sends request n of a flow; false when it could not be (too many in flight). */
  private fire(state: FlowState): boolean {
    const { flow } = state;
    // A request not sent still takes its number, so every later one keeps its decisions.
    const n = state.n++;
    if (!isOpenLoop(flow)) this.noteSend(state, performance.now());
    if (this.inFlight >= this.maxInFlight) {
      this.counts.skipped++;
      return false;
    }
    this.inFlight++;
    state.inFlight.add(n);
    this.counts.sent++;
    this.listener.sent?.(flow, n);
    const sentAt = performance.now();
    const settle = (status: number, degraded = false) => {
      this.listener.answered?.({ flow, n, sentAt, status, latencyMs: performance.now() - sentAt, degraded });
    };
    const key = requestKey(flow.id, n);
    const authority = `${flow.to}:${this.ports[flow.to] ?? 8080}`;
    const answer: Promise<{ status: number; degraded: boolean }> = this.tcp.has(flow.to)
      ? tcpExchange(this.target, authority, key).then((status) => ({ status, degraded: false }))
      : this.pool
        .request({
          path: flow.path,
          method: flow.method as 'GET',
          headers: { ...flow.headers, host: authority, [HEADER.requestKey]: key, 'user-agent': 'mesh-sim-traffic' },
        })
        .then(async ({ statusCode, headers, body }) => {
          await body.dump();
          return { status: statusCode, degraded: headers[DEGRADED_HEADER] !== undefined };
        });
    answer
      .then(({ status, degraded }) => {
        this.counts.answered++;
        this.counts.statuses[status] = (this.counts.statuses[status] ?? 0) + 1;
        settle(status, degraded);
      })
      .catch(() => {
        if (this.running || this.drained) {
          this.counts.failed++;
          settle(0);
        }
      })
      .finally(() => {
        this.inFlight--;
        state.inFlight.delete(n);
        if (this.inFlight === 0) this.drained?.();
        this.fillClosedLoop(state);
      });
    return true;
  }

  private noteSend(state: FlowState, now: number): void {
    state.sends.push(now);
    let drop = 0;
    while (drop < state.sends.length - 1 && now - state.sends[drop]! > SEND_MEMORY_MS) drop++;
    if (drop > 1000) {
      state.sends.splice(0, drop);
      state.sendsFrom += drop;
    }
  }

  /**
   * The first request number of each flow that belongs after `at` (performance.now()
   * time): for an open loop, by its scheduled arrival, so the same seed puts the same
   * requests on each side; for a closed loop, by when it was sent.
   */
  boundary(at = performance.now()): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, state] of this.flows) {
      if (!isOpenLoop(state.flow)) {
        let i = state.sends.length;
        while (i > 0 && state.sends[i - 1]! >= at) i--;
        out.set(id, state.sendsFrom + i);
        continue;
      }
      let n = state.n;
      let t = state.nextAt;
      while (t < at && n - state.n < 1_000_000) t += this.gap(state.flow, ++n);
      out.set(id, n);
    }
    return out;
  }

  /**
   * Resolves once every request numbered below `limits` has been sent (a flow that ends
   * or a stopped generator sends no more) and answered (or failed), or after
   * `timeoutMs`: what a change waits for before it is pushed. A loaded machine sends
   * late, and a request just under the boundary still makes its calls for a while; a
   * change pushed before either would reach a request of the window before it.
   */
  async finishedBelow(limits: ReadonlyMap<string, number>, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const unsent = () => this.running && [...limits].some(([id, limit]) => {
      const state = this.flows.get(id);
      return state !== undefined && state.n < limit && !this.done(state) && performance.now() < this.endAt;
    });
    while ((unsent() || !this.settledBelow(limits)) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /** Whether every request of each flow numbered below `limits` has been answered (or failed). */
  settledBelow(limits: ReadonlyMap<string, number>): boolean {
    for (const [id, limit] of limits) {
      const state = this.flows.get(id);
      if (!state) continue;
      for (const n of state.inFlight) if (n < limit) return false;
    }
    return true;
  }

  /** Whether request `n` is waiting for its answer, or was abandoned waiting (so its spans never count). */
  isInFlight(flow: string, n: number): boolean {
    const state = this.flows.get(flow);
    return state !== undefined && (state.inFlight.has(n) || state.abandoned.has(n));
  }

  /** Requests still in flight, as `flow.n` keys. */
  inFlightKeys(): string[] {
    return [...this.flows.values()].flatMap((s) => [...s.inFlight].map((n) => requestKey(s.flow.id, n)));
  }

  /** No more arrivals. */
  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  /** Waits up to `timeoutMs` for answers to what is in flight; the rest is counted unanswered. */
  async drain(timeoutMs: number): Promise<void> {
    this.stop();
    if (this.inFlight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (this.drained = resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(timer);
    }
    this.counts.unanswered = this.inFlight;
    // Closing the pool ends them with resets whose spans still arrive: they stay unanswered.
    for (const state of this.flows.values()) for (const n of state.inFlight) state.abandoned.add(n);
    this.drained = undefined;
    await this.pool.destroy().catch(() => {});
  }

  get pending(): number {
    return this.inFlight;
  }

  /** Every flow has sent all its `requests` and has nothing in flight. */
  get finished(): boolean {
    return [...this.flows.values()].every((s) => this.done(s) && s.inFlight.size === 0);
  }
}
