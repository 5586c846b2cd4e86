// Spans to any OTLP/HTTP collector, as OpenTelemetry's OTLPTraceExporter sends them:
// protobuf by default (encoded by the SDK's own serializer), JSON on request, the
// user's headers, a timeout per request, and the OTLP spec's retry rule: 429, 502, 503
// and 504 (and a connection that failed) are worth retrying, anything else is not.

import { encodeResourceSpans } from '../otlp.js';
import type { AttributeValue, Span } from '../span.js';
import { VERSION } from '../../version.js';
import type { ExportResult, SpanExporter } from './exporter.js';
import { ResourceCache, splitResource, toReadableSpan } from './readable-span.js';

export type OtlpProtocol = 'http/protobuf' | 'http/json';
const RETRYABLE = new Set([429, 502, 503, 504]);
const SCOPE = { name: 'mesh-sim', version: VERSION };

export interface OtlpHttpOptions {
  /** The traces URL: `http://collector:4318/v1/traces`. */
  url: string;
  protocol: OtlpProtocol;
  headers: Record<string, string>;
  timeoutMs: number;
}

/**
 * OpenTelemetry's serializer, loaded on the first protobuf export: it brings the SDK's
 * metrics and logs packages (some 250 modules, 50 ms), which a run that forwards no
 * spans should not wait for.
 */
let protobufSerializer: Promise<typeof import('@opentelemetry/otlp-transformer').ProtobufTraceSerializer> | undefined;
const loadProtobufSerializer = () => (protobufSerializer ??= import('@opentelemetry/otlp-transformer').then((m) => m.ProtobufTraceSerializer));

export class OtlpHttpExporter implements SpanExporter {
  private readonly resources = new ResourceCache();

  constructor(private readonly options: OtlpHttpOptions) {}

  private async encode(spans: readonly Span[]): Promise<{ body: Uint8Array | string; type: string }> {
    if (this.options.protocol === 'http/json') {
      // Grouped by resource, as the sidecars sent them.
      const groups = new Map<string, { resource: Record<string, AttributeValue>; spans: Span[] }>();
      for (const span of spans) {
        const { resource, attributes } = splitResource(span);
        const key = JSON.stringify(resource);
        const group = groups.get(key) ?? { resource, spans: [] };
        group.spans.push({ ...span, attributes });
        groups.set(key, group);
      }
      return { body: encodeResourceSpans([...groups.values()], SCOPE), type: 'application/json' };
    }
    const readable = spans.map((s) => toReadableSpan(s, this.resources, SCOPE));
    return { body: (await loadProtobufSerializer()).serializeRequest(readable)!, type: 'application/x-protobuf' };
  }

  async export(spans: readonly Span[]): Promise<ExportResult> {
    const { body, type } = await this.encode(spans);
    try {
      const res = await fetch(this.options.url, {
        method: 'POST',
        headers: { ...this.options.headers, 'content-type': type },
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { ok: true };
      return { ok: false, retryable: RETRYABLE.has(res.status), reason: `HTTP ${res.status}` };
    } catch (error) {
      return { ok: false, retryable: true, reason: (error as Error).message };
    }
  }

  async shutdown(): Promise<void> {}
}

/**
 * Where to send, from `--otlp-endpoint` or OpenTelemetry's standard variables:
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is), else OTEL_EXPORTER_OTLP_ENDPOINT
 * (`/v1/traces` appended), OTEL_EXPORTER_OTLP_HEADERS (`k=v,k2=v2`, percent-encoded),
 * OTEL_EXPORTER_OTLP_PROTOCOL (`http/protobuf` or `http/json`).
 */
export function otlpOptionsFrom(endpoint: string | undefined, env: NodeJS.ProcessEnv): OtlpHttpOptions | undefined {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = endpoint ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const url = endpoint !== undefined ? withTracesPath(endpoint) : traces ?? (base ? withTracesPath(base) : undefined);
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new OtlpConfigError(`the OTLP endpoint must be an http:// or https:// URL, not \`${url}\``);
  }
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    throw new OtlpConfigError(`OTEL_EXPORTER_OTLP_PROTOCOL is http/protobuf or http/json for mesh-sim, not \`${protocol}\` (gRPC is not supported)`);
  }
  const headers: Record<string, string> = {};
  for (const pair of (env.OTEL_EXPORTER_OTLP_TRACES_HEADERS ?? env.OTEL_EXPORTER_OTLP_HEADERS ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    headers[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return { url, protocol, headers, timeoutMs: 10_000 };
}

function withTracesPath(base: string): string {
  return /\/v1\/traces\/?$/.test(base) ? base : `${base.replace(/\/+$/, '')}/v1/traces`;
}

export class OtlpConfigError extends Error {}
