// A sidecar's three telemetry outputs, kept off the request's critical path:
// Istio's standard metrics (prom-client, scraped at /stats/prometheus), spans batched
// to the collector as OTLP/HTTP JSON, and access-log lines buffered to stdout.

import { VERSION } from '../version.js';
import http from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { encodeSpanBytes, joinEncodedSpans, type EncodedResourceSpans, type Resource } from '../telemetry/otlp.js';
import { SIDECAR_SDK, type Span } from '../telemetry/span.js';
import { RequestMetrics } from './request-metrics.js';
import { TcpMetrics } from './tcp-metrics.js';
import { postToHub } from '../control/http.js';

export class IstioMetrics {
  readonly registry = new Registry();
  /** istio_requests_total and the three histograms, aggregated off prom-client's per-call path. */
  readonly requests: RequestMetrics;
  /** istio_tcp_*: connections a tcp service's sidecars proxied. */
  readonly tcp: TcpMetrics;
  readonly ejectionsActive: Gauge<string>;
  readonly ejectionsEnforced: Counter<string>;
  readonly overflow: Counter<string>;
  readonly retries: Counter<string>;
  readonly timeouts: Counter<string>;

  constructor() {
    const registers = [this.registry];
    this.requests = new RequestMetrics(this.registry);
    this.tcp = new TcpMetrics(this.registry);
    const cluster = ['cluster_name'];
    this.ejectionsActive = new Gauge({ name: 'envoy_cluster_outlier_detection_ejections_active', help: 'Hosts ejected now.', labelNames: cluster, registers });
    this.ejectionsEnforced = new Counter({ name: 'envoy_cluster_outlier_detection_ejections_enforced_total', help: 'Ejections done.', labelNames: cluster, registers });
    this.overflow = new Counter({ name: 'envoy_cluster_upstream_rq_pending_overflow', help: 'Requests refused by the connection pool (UO).', labelNames: cluster, registers });
    this.retries = new Counter({ name: 'envoy_cluster_upstream_rq_retry', help: 'Retries made.', labelNames: cluster, registers });
    this.timeouts = new Counter({ name: 'envoy_cluster_upstream_rq_timeout', help: 'Requests that timed out (UT).', labelNames: cluster, registers });
    // As Istio's proxies report their build, which the dashboards' version panels read.
    new Gauge({ name: 'istio_build', help: 'Istio component build info.', labelNames: ['component', 'tag'], registers }).set({ component: 'proxy', tag: `mesh-sim-${VERSION}` }, 1);
  }
}

/** Where a sidecar's spans go: added one by one, sent in batches. */
export interface SpanSink {
  add(span: Span): void;
  /** Sends what is queued; resolves when the collector has it, or refused it. */
  flush(): Promise<void>;
  /** Sends what is left and lets go of what it holds. */
  stop(): Promise<void>;
}

/** Where a batch of spans goes: the batcher's own interface, as OpenTelemetry's SpanExporter is its SDK's. */
export interface SpanExporter {
  /** Resolves once the other side has the batch; rejects when it refused it or cannot be reached. */
  export(groups: readonly EncodedResourceSpans[]): Promise<void>;
  shutdown(): void;
}

/** Sends spans, grouped by resource, to the collector as OTLP/HTTP JSON with the run's secret. */
export class OtlpHttpExporter implements SpanExporter {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  private readonly url: URL;

  constructor(collectorUrl: string, private readonly secret: string) {
    this.url = new URL('/v1/traces', collectorUrl);
  }

  async export(groups: readonly EncodedResourceSpans[]): Promise<void> {
    const body = joinEncodedSpans(groups, { name: SIDECAR_SDK, version: '1' });
    const { status } = await postToHub(this.url, this.secret, body, { timeoutMs: 5000, agent: this.agent });
    if (status !== 200) throw new Error(`collector answered ${status}`);
  }

  shutdown(): void {
    this.agent.destroy();
  }
}

/** How a SpanBatcher paces its batches (see SpanBatcher). */
export interface BatchOptions {
  /** The wait between batches in a steady flow (ms; 1000). */
  flushMs?: number;
  /** Most spans in one batch (256). */
  maxBatch?: number;
  /** Most spans kept while the collector cannot be reached (50,000). */
  maxQueue?: number;
  /** The wait for the first batches after a quiet spell (ms; 50). */
  gatherMs?: number;
  /** How long after a quiet spell batches keep going every gatherMs (ms; 500). */
  rampMs?: number;
}

/**
 * Spans batched apart from their export, as OpenTelemetry's BatchSpanProcessor does:
 * from one sidecar, or from every sidecar of a node process at once. In a steady flow a
 * batch goes once every `flushMs` (once a second: an idle sidecar costs no CPU), or at
 * `maxBatch`. After a quiet spell batches go every `gatherMs` for `rampMs`, then the
 * wait doubles with each batch up to `flushMs`, so the first traces a learner looks for
 * (a run's first requests, a request sent by hand) appear at once, however long they
 * took, rather than a second late. The ramp is what makes the first trace whole: a cold
 * first request takes 100-200 ms and its spans end over that time, while a wait that
 * doubled from the first batch left its last spans 100 ms behind the others. When the
 * collector cannot be reached spans wait, up to `maxQueue`, past which the oldest are
 * dropped and counted, so nothing grows without bound.
 *
 * A batch holds at most `maxBatch` spans (256, some 230 kB): the collector decodes a
 * batch in one go on mesh-sim's event loop, which also paces the traffic. Batches of
 * 2,048 (a busy node's whole second) held that loop for 26-34 ms; the traffic sent
 * after such a stall went as a burst, and the 10-service tree's p99 at 300 rps read
 * 31-34 ms against 21-22 ms with batches of 256 (stalls 9-10 ms).
 */
export class SpanBatcher {
  /**
   * Spans encoded as they come, as bytes: encoding a second of a busy node's spans at
   * once (2,000 spans, 1.8 MB) held the event loop for 6 ms, a stall every request in
   * flight then waited out; a span at a time it is spread over the requests. A span's
   * bytes are also one small object where the span was a dozen.
   */
  private queue: Array<{ resource: Resource; json: Buffer }> = [];
  private sending: Promise<void> | undefined;
  /** Set while spans wait: an idle batcher runs no timer. */
  private timer: NodeJS.Timeout | undefined;
  /** When the last batch went, on the monotonic clock. */
  private lastFlushAt = -Infinity;
  /** The wait after the last batch: `gatherMs` after a quiet spell, doubling to `flushMs` once the ramp is over. */
  private interval: number;
  /** When the spans began to come after the last quiet spell, on the monotonic clock. */
  private activeSince = -Infinity;
  dropped = 0;
  failures = 0;
  private stopped = false;
  private readonly flushMs: number;
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private readonly gatherMs: number;
  private readonly rampMs: number;

  constructor(private readonly exporter: SpanExporter, options: BatchOptions = {}) {
    this.flushMs = options.flushMs ?? 1000;
    this.maxBatch = options.maxBatch ?? 256;
    this.maxQueue = options.maxQueue ?? 50_000;
    this.gatherMs = options.gatherMs ?? 50;
    this.rampMs = options.rampMs ?? 500;
    this.interval = this.gatherMs;
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0 || this.stopped) return;
    const delay = Math.max(this.gatherMs, this.lastFlushAt + this.interval - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.send(false);
    }, delay);
    this.timer.unref();
  }

  add(resource: Resource, span: Span): void {
    if (this.queue.length === 0 && !this.sending) {
      const now = performance.now();
      if (now - this.lastFlushAt >= this.flushMs) {
        this.interval = this.gatherMs;
        this.activeSince = now;
      }
    }
    this.queue.push({ resource, json: encodeSpanBytes(span) });
    this.schedule();
    if (this.queue.length > this.maxQueue) {
      const excess = this.queue.length - this.maxQueue;
      this.queue.splice(0, excess);
      this.dropped += excess;
    }
    if (this.queue.length >= this.maxBatch && !this.sending) void this.send(false);
  }

  /** A sink for one sidecar's spans; `owned`: stopping it stops the batcher (a sidecar on its own). */
  sink(resource: Resource, owned: boolean): SpanSink {
    return {
      add: (span) => this.add(resource, span),
      flush: () => this.flush(),
      stop: () => (owned ? this.stop() : this.flush()),
    };
  }

  /** Sends what is queued; resolves when the queue is empty or the collector refused. */
  flush(): Promise<void> {
    return this.send(true);
  }

  /**
   * Sends the spans queued now, and full batches as long as there are some. Spans that
   * come while a batch is on its way wait for their own trigger (a full batch, or the
   * timer) unless `everything`: draining them at once would chase each export with
   * another of the few spans that came meanwhile, an HTTP request per handful of spans
   * (seen: 200 exports a second of 27 spans each from one busy sidecar).
   */
  private async send(everything: boolean): Promise<void> {
    while (this.sending) await this.sending;
    if (this.queue.length > 0) {
      this.lastFlushAt = performance.now();
      this.interval = this.lastFlushAt - this.activeSince < this.rampMs ? this.gatherMs : Math.min(this.flushMs, this.interval * 2);
    }
    let owed = this.queue.length;
    while (this.queue.length > 0 && (everything || owed > 0 || this.queue.length >= this.maxBatch)) {
      const batch = this.queue.splice(0, this.maxBatch);
      owed -= batch.length;
      const groups = new Map<Resource, Buffer[]>();
      for (const { resource, json } of batch) {
        const list = groups.get(resource);
        if (list) list.push(json);
        else groups.set(resource, [json]);
      }
      this.sending = this.exporter.export([...groups].map(([resource, spans]) => ({ resource, spans }))).then(
        () => {
          this.failures = 0;
        },
        () => {
          // Put the batch back for the next flush; stop for now.
          this.failures++;
          this.queue.unshift(...batch);
        },
      );
      await this.sending;
      this.sending = undefined;
      if (this.failures > 0) break;
    }
    // What is left (refused, or come meanwhile) goes at the next tick.
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
    this.exporter.shutdown();
  }

  get queued(): number {
    return this.queue.length;
  }
}

/**
 * JSON lines to a stream, written in batches so a busy sidecar makes few writes. A
 * flush is scheduled only when a line waits: an idle sidecar runs no timer.
 */
export class LineWriter {
  private buffer: string[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly write: (text: string) => void,
    private readonly flushMs = 50,
    private readonly maxBytes = 64 * 1024,
  ) {}

  line(value: unknown): void {
    this.text(JSON.stringify(value));
  }

  /** A line already formatted (the hot path formats its own JSON). */
  text(text: string): void {
    this.buffer.push(text);
    this.size += text.length + 1;
    if (this.size >= this.maxBytes) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    const text = this.buffer.join('\n') + '\n';
    this.buffer = [];
    this.size = 0;
    this.write(text);
  }

  stop(): void {
    this.flush();
  }
}

/** Wall-clock milliseconds with sub-millisecond precision, for span times. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
