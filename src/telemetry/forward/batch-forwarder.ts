// Batching apart from exporting, as OpenTelemetry's BatchSpanProcessor: spans queue (at
// most MAX_QUEUE; past it they are dropped and counted, never blocking the mesh), go out
// in batches of MAX_BATCH once a second or when a batch is full, one export at a time;
// a retryable failure is tried again with exponential backoff (up to MAX_TRIES), then
// the batch is dropped and counted. Shutdown sends what is left, within a bound.

import type { Span } from '../span.js';
import type { SpanExporter } from './exporter.js';

export const MAX_QUEUE = 2048 * 8;
export const MAX_BATCH = 512;
const DELAY_MS = 1000;
const MAX_TRIES = 5;
const FIRST_BACKOFF_MS = 500;

export interface ForwardCounts {
  exported: number;
  dropped: number;
  failedExports: number;
  lastError: string | undefined;
}

export class BatchForwarder {
  private queue: Span[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private stopped = false;
  readonly counts: ForwardCounts = { exported: 0, dropped: 0, failedExports: 0, lastError: undefined };

  constructor(private readonly exporter: SpanExporter, private readonly sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref())) {}

  add(spans: readonly Span[]): void {
    if (this.stopped) return;
    const room = MAX_QUEUE - this.queue.length;
    if (spans.length > room) this.counts.dropped += spans.length - Math.max(0, room);
    for (let i = 0; i < Math.min(room, spans.length); i++) this.queue.push(spans[i]!);
    this.schedule();
  }

  /** A full batch goes now; a partial one within DELAY_MS. */
  private schedule(): void {
    if (this.queue.length >= MAX_BATCH) this.kick();
    else if (!this.timer && this.queue.length > 0) {
      this.timer = setTimeout(() => this.kick(), DELAY_MS);
      this.timer.unref();
    }
  }

  private kick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.sending) return;
    this.sending = this.drain().finally(() => {
      this.sending = undefined;
      if (!this.stopped) this.schedule();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      await this.send(batch);
      if (this.queue.length < MAX_BATCH && !this.stopped) break;
    }
  }

  private async send(batch: Span[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const result = await this.exporter.export(batch);
      if (result.ok) {
        this.counts.exported += batch.length;
        return;
      }
      this.counts.lastError = result.reason;
      if (!result.retryable || attempt === MAX_TRIES || this.stopped) {
        this.counts.failedExports++;
        this.counts.dropped += batch.length;
        return;
      }
      await this.sleep(FIRST_BACKOFF_MS * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
    }
  }

  /** Sends what is queued (one try per batch), within `timeoutMs`. */
  async shutdown(timeoutMs = 5000): Promise<void> {
    clearTimeout(this.timer);
    const done = (async () => {
      await this.sending;
      this.stopped = true;
      while (this.queue.length > 0) await this.send(this.queue.splice(0, MAX_BATCH));
    })();
    await Promise.race([done, new Promise<void>((r) => setTimeout(r, timeoutMs).unref())]);
    this.stopped = true;
    this.counts.dropped += this.queue.length;
    this.queue = [];
    await this.exporter.shutdown();
  }
}
