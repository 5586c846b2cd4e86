// The load that enters the mesh: an open loop per flow (arrivals never wait for
// answers), arrival times drawn from the seed, sent to the ingress gateway with the
// flow's Host, path and headers. Bounded: it stops when told, caps what may be in
// flight, and counts every request, answered or not.

import { Pool } from 'undici';
import type { TrafficFlow } from '../scenario/model.js';
import { HEADER } from '../control/protocol.js';
import { gapMs, requestKey } from './arrivals.js';
import type { Address } from '../runtime/runtime.js';

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

interface FlowState {
  flow: TrafficFlow;
  n: number;
  nextAt: number;
}

/** Most arrivals fired in one timer turn, so a stalled loop catches up without freezing. */
const MAX_BURST = 2000;

export class TrafficGenerator {
  private readonly flows = new Map<string, FlowState>();
  private readonly pool: Pool;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** No arrival scheduled at or after this (performance.now() time) is sent. */
  private endAt = Infinity;
  private inFlight = 0;
  private drained: (() => void) | undefined;
  readonly counts: TrafficCounts = { sent: 0, answered: 0, unanswered: 0, failed: 0, skipped: 0, statuses: {} };

  constructor(
    target: Address,
    private readonly seed: number,
    private readonly ports: Record<string, number>,
    private readonly maxInFlight = 4000,
    private readonly onAnswer: (flow: TrafficFlow, status: number, ms: number) => void = () => {},
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
    const now = at;
    const keep = new Set(flows.map((f) => f.id));
    for (const id of [...this.flows.keys()]) if (!keep.has(id)) this.flows.delete(id);
    for (const flow of flows) {
      const existing = this.flows.get(flow.id);
      if (existing) {
        const rateChanged = existing.flow.rps !== flow.rps || existing.flow.arrival !== flow.arrival;
        existing.flow = flow;
        if (rateChanged) existing.nextAt = now + gapMs(this.seed, flow.id, existing.n, flow.rps, flow.arrival);
      } else {
        this.flows.set(flow.id, { flow, n: 0, nextAt: now + gapMs(this.seed, flow.id, 0, flow.rps, flow.arrival) });
      }
    }
    if (this.running) this.schedule();
  }

  /** Starts the flows now; with `durationMs`, no arrival scheduled after that is sent. */
  start(flows: TrafficFlow[], durationMs = Infinity): void {
    const now = performance.now();
    this.endAt = now + durationMs;
    this.running = true;
    this.setFlows(flows, now);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    let next = Infinity;
    for (const state of this.flows.values()) next = Math.min(next, state.nextAt);
    if (next === Infinity || next >= this.endAt) return;
    this.timer = setTimeout(() => this.tick(), Math.max(0, next - performance.now()));
  }

  private tick(): void {
    if (!this.running) return;
    const now = performance.now();
    let fired = 0;
    for (const state of this.flows.values()) {
      while (state.nextAt <= now && state.nextAt < this.endAt && fired < MAX_BURST) {
        this.fire(state);
        fired++;
        state.n++;
        state.nextAt += gapMs(this.seed, state.flow.id, state.n, state.flow.rps, state.flow.arrival);
      }
    }
    this.schedule();
  }

  private fire(state: FlowState): void {
    const { flow } = state;
    if (this.inFlight >= this.maxInFlight) {
      this.counts.skipped++;
      return;
    }
    this.inFlight++;
    this.counts.sent++;
    const started = performance.now();
    this.pool
      .request({
        path: flow.path,
        method: flow.method as 'GET',
        headers: {
          ...flow.headers,
          host: `${flow.to}:${this.ports[flow.to] ?? 8080}`,
          [HEADER.requestKey]: requestKey(flow.id, state.n),
          'user-agent': 'mesh-sim-traffic',
        },
      })
      .then(async ({ statusCode, body }) => {
        await body.dump();
        this.counts.answered++;
        this.counts.statuses[statusCode] = (this.counts.statuses[statusCode] ?? 0) + 1;
        this.onAnswer(flow, statusCode, performance.now() - started);
      })
      .catch(() => {
        if (this.running || this.drained) this.counts.failed++;
      })
      .finally(() => {
        this.inFlight--;
        if (this.inFlight === 0) this.drained?.();
      });
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
    this.drained = undefined;
    await this.pool.destroy().catch(() => {});
  }

  get pending(): number {
    return this.inFlight;
  }
}
