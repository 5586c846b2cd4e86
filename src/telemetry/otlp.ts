// OTLP/HTTP JSON, the standard wire format for spans: how sidecars send them, and how
// the collector reads them from sidecars and from any OpenTelemetry SDK.

import type { AttributeValue, Span, SpanKind } from './span.js';

const KIND_TO_OTLP: Record<SpanKind, number> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };
const OTLP_TO_KIND: Record<number, SpanKind> = { 0: 'internal', 1: 'internal', 2: 'server', 3: 'client', 4: 'producer', 5: 'consumer' };

type OtlpValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean; arrayValue?: { values?: OtlpValue[] } };
interface OtlpKeyValue {
  key: string;
  value?: OtlpValue;
}

function fromOtlpValue(value: OtlpValue | undefined): AttributeValue | undefined {
  if (!value || typeof value !== 'object') return undefined;
  if (typeof value.stringValue === 'string') return value.stringValue;
  if (typeof value.boolValue === 'boolean') return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (typeof value.doubleValue === 'number') return value.doubleValue;
  if (value.arrayValue) return JSON.stringify((value.arrayValue.values ?? []).map(fromOtlpValue));
  return undefined;
}

/** Milliseconds (with a fraction) to OTLP's decimal nanoseconds, via whole microseconds. */
export function msToNanos(ms: number): string {
  // Epoch microseconds stay below 2^53: exact as an integer.
  return `${Math.round(ms * 1000)}000`;
}

/** OTLP times are nanoseconds: a decimal string, a number, or protobuf.js's {low, high}. */
function nanosToMs(value: unknown): number {
  if (typeof value === 'string' && /^\d+$/.test(value)) {
    return value.length > 6 ? Number(value.slice(0, -6)) + Number(value.slice(-6)) / 1e6 : Number(value) / 1e6;
  }
  if (typeof value === 'number') return value / 1e6;
  if (value && typeof value === 'object' && 'low' in value && 'high' in value) {
    const { low, high } = value as { low: number; high: number };
    return ((high >>> 0) * 4294967296 + (low >>> 0)) / 1e6;
  }
  return NaN;
}

const HEX_ID: Record<number, RegExp> = { 8: /^[0-9a-fA-F]{16}$/, 16: /^[0-9a-fA-F]{32}$/ };

/** OTLP/JSON ids are hex; proto3's JSON mapping would make them base64: accept both. */
function normaliseId(id: unknown, bytes: 8 | 16): string | undefined {
  if (typeof id !== 'string' || id === '') return undefined;
  if (HEX_ID[bytes]!.test(id)) return id.toLowerCase();
  const decoded = Buffer.from(id, 'base64');
  return decoded.length === bytes ? decoded.toString('hex') : undefined;
}

export interface Resource {
  [key: string]: AttributeValue;
}

function encodeValue(value: AttributeValue): string {
  if (typeof value === 'string') return `{"stringValue":${JSON.stringify(value)}}`;
  if (typeof value === 'boolean') return `{"boolValue":${value}}`;
  return Number.isInteger(value) ? `{"intValue":${value}}` : Number.isFinite(value) ? `{"doubleValue":${value}}` : `{"stringValue":"${value}"}`;
}

const keyPrefixes = new Map<string, string>();

function keyPrefix(key: string): string {
  let prefix = keyPrefixes.get(key);
  if (prefix === undefined) {
    prefix = `{"key":${JSON.stringify(key)},"value":`;
    if (keyPrefixes.size < 1000) keyPrefixes.set(key, prefix);
  }
  return prefix;
}

function encodeAttributes(attributes: Record<string, AttributeValue>): string {
  let out = '';
  for (const key in attributes) {
    out += `${out === '' ? '' : ','}${keyPrefix(key)}${encodeValue(attributes[key]!)}}`;
  }
  return `[${out}]`;
}

/** Spans of one resource (one sidecar): what an export request holds one or many of. */
export interface ResourceSpans {
  resource: Resource;
  spans: readonly Span[];
}

/** The same with each span already encoded (encodeSpanBytes): what a batcher holds while it waits. */
export interface EncodedResourceSpans {
  resource: Resource;
  spans: readonly Buffer[];
}

/** One span as OTLP/JSON. Written as a string directly: building objects for JSON.stringify costs several times more. */
export function encodeSpan(s: Span): string {
  return `{"traceId":"${s.traceId}","spanId":"${s.spanId}",${s.parentSpanId ? `"parentSpanId":"${s.parentSpanId}",` : ''}`
    + `"name":${JSON.stringify(s.name)},"kind":${KIND_TO_OTLP[s.kind]},"startTimeUnixNano":"${msToNanos(s.startMs)}",`
    + `"endTimeUnixNano":"${msToNanos(s.endMs)}","attributes":${encodeAttributes(s.attributes)},"status":{"code":${s.error ? 2 : 0}}}`;
}

/** One span as the UTF-8 bytes of its OTLP/JSON, for joinEncodedSpans. */
export function encodeSpanBytes(s: Span): Buffer {
  return Buffer.from(encodeSpan(s));
}

const COMMA = Buffer.from(',');

/**
 * One export request from spans already encoded, grouped by resource (the sidecars of
 * one process). Joined as bytes: a second of a busy node's spans is megabytes, and
 * building that as one string, then measuring and converting it, stalled the event
 * loop for milliseconds; copying bytes is a fraction of that.
 */
export function joinEncodedSpans(groups: readonly EncodedResourceSpans[], scope = { name: 'mesh-sim', version: '0' }): Buffer {
  const scopeJson = JSON.stringify(scope);
  const parts: Buffer[] = [Buffer.from('{"resourceSpans":[')];
  groups.forEach(({ resource, spans }, g) => {
    parts.push(Buffer.from(`${g === 0 ? '' : ','}{"resource":{"attributes":${encodeAttributes(resource)}},"scopeSpans":[{"scope":${scopeJson},"spans":[`));
    spans.forEach((span, i) => {
      if (i > 0) parts.push(COMMA);
      parts.push(span);
    });
    parts.push(Buffer.from(']}]}'));
  });
  parts.push(Buffer.from(']}'));
  return Buffer.concat(parts);
}

/** One export request holding spans of one or many resources, as a string (forwarders, tests). */
export function encodeResourceSpans(groups: readonly ResourceSpans[], scope = { name: 'mesh-sim', version: '0' }): string {
  return joinEncodedSpans(groups.map(({ resource, spans }) => ({ resource, spans: spans.map(encodeSpanBytes) })), scope).toString('utf8');
}

/** One export request holding spans of one resource. */
export function encodeSpans(resource: Resource, spans: readonly Span[], scope = { name: 'mesh-sim', version: '0' }): string {
  return encodeResourceSpans([{ resource, spans }], scope);
}

export class OtlpFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OtlpFormatError';
  }
}

function attributes(list: unknown): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list as OtlpKeyValue[]) {
    if (!kv || typeof kv.key !== 'string') continue;
    const v = fromOtlpValue(kv.value);
    if (v !== undefined) out[kv.key] = v;
  }
  return out;
}

/** Spans from an ExportTraceServiceRequest; malformed spans are skipped and counted. */
export function decodeSpans(body: unknown): { spans: Span[]; rejected: number } {
  if (!body || typeof body !== 'object' || !Array.isArray((body as { resourceSpans?: unknown }).resourceSpans)) {
    throw new OtlpFormatError('expected an OTLP ExportTraceServiceRequest: {"resourceSpans": [...]}');
  }
  const spans: Span[] = [];
  let rejected = 0;
  for (const rs of (body as { resourceSpans: Array<Record<string, unknown>> }).resourceSpans) {
    const resource = attributes((rs?.resource as { attributes?: unknown } | undefined)?.attributes);
    const service = String(resource['service.name'] ?? 'unknown_service');
    const inherited = resourceAttributes(resource);
    const scopes = (rs?.scopeSpans ?? rs?.instrumentationLibrarySpans) as Array<{ spans?: unknown[] }> | undefined;
    for (const scope of scopes ?? []) {
      for (const raw of (scope?.spans ?? []) as Array<Record<string, unknown>>) {
        const traceId = normaliseId(raw?.traceId, 16);
        const spanId = normaliseId(raw?.spanId, 8);
        const startMs = nanosToMs(raw?.startTimeUnixNano);
        const endMs = nanosToMs(raw?.endTimeUnixNano);
        if (!traceId || !spanId || !Number.isFinite(startMs) || !Number.isFinite(endMs)) {
          rejected++;
          continue;
        }
        const status = raw.status as { code?: number | string } | undefined;
        const code = status?.code;
        spans.push({
          traceId,
          spanId,
          parentSpanId: normaliseId(raw.parentSpanId, 8),
          name: typeof raw.name === 'string' ? raw.name : '',
          kind: OTLP_TO_KIND[Number(raw.kind ?? 0)] ?? 'internal',
          startMs,
          endMs: Math.max(endMs, startMs),
          service,
          attributes: Object.assign(attributes(raw.attributes), inherited),
          error: code === 2 || code === 'STATUS_CODE_ERROR',
        });
      }
    }
  }
  return { spans, rejected };
}

/**
 * Resource attributes every span of the resource carries (the rest describe the
 * process). Sidecars put their constants here, once per export rather than per span.
 */
export const INHERITED_RESOURCE_ATTRIBUTES = [
  'service.version', 'service.instance.id', 'service.namespace', 'istio.canonical_service', 'istio.canonical_revision', 'telemetry.sdk.name',
] as const;

function resourceAttributes(resource: Record<string, AttributeValue>): Record<string, AttributeValue> {
  const keep: Record<string, AttributeValue> = {};
  for (const key of INHERITED_RESOURCE_ATTRIBUTES) {
    const v = resource[key];
    if (v !== undefined) keep[key] = v;
  }
  return keep;
}
