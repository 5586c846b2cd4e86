// The forwarder a command sets up from `--otlp-endpoint` and OpenTelemetry's standard
// variables, or none; and the line it says at the end.

import { BatchForwarder } from './batch-forwarder.js';
import { OtlpConfigError, OtlpHttpExporter, otlpOptionsFrom } from './otlp-http-exporter.js';

export interface Forwarding {
  forwarder: BatchForwarder;
  url: string;
  protocol: string;
}

/** Throws OtlpConfigError for an endpoint or protocol mesh-sim cannot use. */
export function forwardingFrom(endpoint: string | undefined, env: NodeJS.ProcessEnv = process.env): Forwarding | undefined {
  const options = otlpOptionsFrom(endpoint, env);
  if (!options) return undefined;
  return { forwarder: new BatchForwarder(new OtlpHttpExporter(options)), url: options.url, protocol: options.protocol };
}

export function forwardingReport(f: Forwarding): string {
  const { exported, dropped, lastError } = f.forwarder.counts;
  return `spans to ${f.url} (${f.protocol}): ${exported} sent${dropped > 0 ? `, ${dropped} dropped (${lastError ?? 'the queue was full'})` : ''}`;
}

export { OtlpConfigError };
