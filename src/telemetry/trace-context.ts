// Trace context on the wire: W3C traceparent (what mesh-sim sends), and B3, single and
// multi header, read when a client sends those instead (Zipkin-instrumented apps).

import { randomBytes } from 'node:crypto';

export interface TraceContext {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const ZERO32 = '0'.repeat(32);
const ZERO16 = '0'.repeat(16);

export function parseTraceparent(value: string | undefined): TraceContext | undefined {
  if (!value) return undefined;
  const parts = value.trim().toLowerCase().split('-');
  if (parts.length < 4) return undefined;
  const [version, traceId, spanId, flags] = parts as [string, string, string, string];
  if (version === 'ff' || !/^[0-9a-f]{2}$/.test(version)) return undefined;
  if (version === '00' && parts.length !== 4) return undefined;
  if (!HEX32.test(traceId) || traceId === ZERO32 || !HEX16.test(spanId) || spanId === ZERO16) return undefined;
  if (!/^[0-9a-f]{2}$/.test(flags)) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

export function formatTraceparent(traceId: string, spanId: string, sampled = true): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

/** B3 trace ids may be 64-bit; W3C's are 128-bit, left-padded with zeros. */
function b3TraceId(id: string | undefined): string | undefined {
  if (!id) return undefined;
  const lower = id.toLowerCase();
  if (HEX32.test(lower)) return lower;
  if (HEX16.test(lower)) return ZERO16 + lower;
  return undefined;
}

function b3Sampled(flag: string | undefined, debug?: string): boolean {
  if (debug === '1' || flag === 'd') return true;
  return flag === undefined ? true : flag === '1' || flag.toLowerCase() === 'true';
}

/** `b3: {TraceId}-{SpanId}-{SamplingState}-{ParentSpanId}`. */
export function parseB3Single(value: string | undefined): TraceContext | undefined {
  if (!value) return undefined;
  const [traceId, spanId, flag] = value.trim().split('-');
  const trace = b3TraceId(traceId);
  const span = spanId?.toLowerCase();
  if (!trace || !span || !HEX16.test(span) || span === ZERO16) return undefined;
  return { traceId: trace, spanId: span, sampled: b3Sampled(flag) };
}

type HeaderBag = Record<string, string | string[] | undefined>;

function first(headers: HeaderBag, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function parseB3Multi(headers: HeaderBag): TraceContext | undefined {
  const trace = b3TraceId(first(headers, 'x-b3-traceid'));
  const span = first(headers, 'x-b3-spanid')?.toLowerCase();
  if (!trace || !span || !HEX16.test(span) || span === ZERO16) return undefined;
  return { traceId: trace, spanId: span, sampled: b3Sampled(first(headers, 'x-b3-sampled'), first(headers, 'x-b3-flags')) };
}

/** The caller's context, in the order a mesh reads them: traceparent, then B3. */
export function extractContext(headers: HeaderBag): TraceContext | undefined {
  return parseTraceparent(first(headers, 'traceparent')) ?? parseB3Single(first(headers, 'b3')) ?? parseB3Multi(headers);
}

// Ids come from a pool of random bytes: one crypto call per 512 ids, not per id.
let pool = Buffer.alloc(0);
let offset = 0;

function hex(bytes: number): string {
  if (offset + bytes > pool.length) {
    pool = randomBytes(4096);
    offset = 0;
  }
  const out = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return out;
}

export function newTraceId(): string {
  const id = hex(16);
  return id === ZERO32 ? newTraceId() : id;
}

export function newSpanId(): string {
  const id = hex(8);
  return id === ZERO16 ? newSpanId() : id;
}

/** Envoy's x-request-id: a UUID v4. */
export function newRequestId(): string {
  const h = hex(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
