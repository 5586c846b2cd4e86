// What sending spans out of mesh-sim means, owned here (as opentelemetry-js's
// SpanExporter is owned by the SDK): an exporter sends one batch and says how it went;
// batching, queueing and timing live apart, in batch-forwarder.ts. A new destination
// is one module implementing this.

import type { Span } from '../span.js';

export type ExportResult =
  | { ok: true }
  /** `retryable`: worth sending again later (the endpoint was down, or said 429/502/503/504). */
  | { ok: false; retryable: boolean; reason: string };

export interface SpanExporter {
  export(spans: readonly Span[]): Promise<ExportResult>;
  shutdown(): Promise<void>;
}
