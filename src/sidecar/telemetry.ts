// A sidecar's three telemetry outputs, kept off the request's critical path:
// Istio's standard metrics (prom-client, scraped at /stats/prometheus), spans batched
// to the collector as OTLP/HTTP JSON, and access-log lines buffered to stdout.

import http from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { encodeSpans, type Resource } from '../telemetry/otlp.js';
import { SIDECAR_SDK, type Span } from '../telemetry/span.js';
import { RequestMetrics } from './request-metrics.js';

export class IstioMetrics {
  readonly registry = new Registry();
  /** istio_requests_total and the three histograms, aggregated off prom-client's per-call path. */
  readonly requests: RequestMetrics;
  readonly ejectionsActive: Gauge<string>;
  readonly ejectionsEnforced: Counter<string>;
  readonly overflow: Counter<string>;
  readonly retries: Counter<string>;
  readonly timeouts: Counter<string>;

  constructor() {
    const registers = [this.registry];
    this.requests = new RequestMetrics(this.registry);
    const cluster = ['cluster_name'];
    this.ejectionsActive = new Gauge({ name: 'envoy_cluster_outlier_detection_ejections_active', help: 'Hosts ejected now.', labelNames: cluster, registers });
    this.ejectionsEnforced = new Counter({ name: 'envoy_cluster_outlier_detection_ejections_enforced_total', help: 'Ejections done.', labelNames: cluster, registers });
    this.overflow = new Counter({ name: 'envoy_cluster_upstream_rq_pending_overflow', help: 'Requests refused by the connection pool (UO).', labelNames: cluster, registers });
    this.retries = new Counter({ name: 'envoy_cluster_upstream_rq_retry', help: 'Retries made.', labelNames: cluster, registers });
    this.timeouts = new Counter({ name: 'envoy_cluster_upstream_rq_timeout', help: 'Requests that timed out (UT).', labelNames: cluster, registers });
  }
}

/**
 * Spans go to the collector in batches (every `flushMs`, or at `maxBatch`). When the
 * collector cannot be reached they wait, up to `maxQueue`; past that the oldest are
 * dropped and counted, so a sidecar never grows without bound.
 */
export class SpanExporter {
  private queue: Span[] = [];
  private sending: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  private readonly url: URL;
  dropped = 0;
  failures = 0;

  constructor(
    collectorUrl: string,
    private readonly secret: string,
    private readonly resource: Resource,
    private readonly flushMs = 100,
    private readonly maxBatch = 512,
    private readonly maxQueue = 20_000,
  ) {
    this.url = new URL('/v1/traces', collectorUrl);
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  add(span: Span): void {
    this.queue.push(span);
    if (this.queue.length > this.maxQueue) {
      const excess = this.queue.length - this.maxQueue;
      this.queue.splice(0, excess);
      this.dropped += excess;
    }
    if (this.queue.length >= this.maxBatch && !this.sending) void this.flush();
  }

  /** Sends what is queued; resolves when the queue is empty or the collector refused. */
  async flush(): Promise<void> {
    while (this.sending) await this.sending;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.sending = this.post(batch).then(
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
      if (this.failures > 0) return;
    }
  }

  private post(batch: Span[]): Promise<void> {
    const body = encodeSpans(this.resource, batch, { name: SIDECAR_SDK, version: '1' });
    return new Promise((resolve, reject) => {
      const req = http.request(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${this.secret}` },
        timeout: 5000,
      }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`collector answered ${res.statusCode}`))));
      });
      req.on('timeout', () => req.destroy(new Error('collector timed out')));
      req.on('error', reject);
      req.end(body);
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    this.agent.destroy();
  }

  get queued(): number {
    return this.queue.length;
  }
}

/** JSON lines to a stream, written in batches so a busy sidecar makes few writes. */
export class LineWriter {
  private buffer: string[] = [];
  private size = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly write: (text: string) => void,
    flushMs = 50,
    private readonly maxBytes = 64 * 1024,
  ) {
    this.timer = setInterval(() => this.flush(), flushMs);
    this.timer.unref();
  }

  line(value: unknown): void {
    this.text(JSON.stringify(value));
  }

  /** A line already formatted (the hot path formats its own JSON). */
  text(text: string): void {
    this.buffer.push(text);
    this.size += text.length + 1;
    if (this.size >= this.maxBytes) this.flush();
  }

  flush(): void {
    if (this.buffer.length === 0) return;
    const text = this.buffer.join('\n') + '\n';
    this.buffer = [];
    this.size = 0;
    this.write(text);
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

/** Wall-clock milliseconds with sub-millisecond precision, for span times. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
