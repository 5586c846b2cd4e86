// mesh-sim's spans in the shape OpenTelemetry's SDK hands its exporters (ReadableSpan),
// so the SDK's own OTLP serializers encode them: the resource a sidecar put on its
// spans (service.name, service.version, service.instance.id, ...) becomes the
// resource again, one per sidecar, shared by its spans.

import type { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { INHERITED_RESOURCE_ATTRIBUTES } from '../otlp.js';
import type { AttributeValue, Span, SpanKind } from '../span.js';

export type ReadableSpan = Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0][number];

const KIND: Record<SpanKind, number> = { internal: 0, server: 1, client: 2, producer: 3, consumer: 4 };
const RESOURCE_KEYS = new Set<string>(INHERITED_RESOURCE_ATTRIBUTES);

function hrTime(ms: number): [number, number] {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

/** Resources are shared by identity, as the SDK's are: one per distinct set of resource attributes. */
export class ResourceCache {
  private readonly byKey = new Map<string, ReadableSpan['resource']>();

  get(attributes: Record<string, AttributeValue>): ReadableSpan['resource'] {
    const key = JSON.stringify(attributes);
    let resource = this.byKey.get(key);
    if (!resource) {
      resource = { attributes, merge: () => resource!, getRawAttributes: () => Object.entries(attributes) } as unknown as ReadableSpan['resource'];
      if (this.byKey.size > 10_000) this.byKey.clear();
      this.byKey.set(key, resource);
    }
    return resource;
  }
}

/** A span's attributes parted again into its resource's (the sidecar's constants) and its own. */
export function splitResource(span: Span): { resource: Record<string, AttributeValue>; attributes: Record<string, AttributeValue> } {
  const resource: Record<string, AttributeValue> = { 'service.name': span.service };
  const attributes: Record<string, AttributeValue> = {};
  for (const [key, value] of Object.entries(span.attributes)) {
    if (RESOURCE_KEYS.has(key)) resource[key] = value;
    else attributes[key] = value;
  }
  return { resource, attributes };
}

export function toReadableSpan(span: Span, resources: ResourceCache, scope: { name: string; version: string }): ReadableSpan {
  const { resource, attributes } = splitResource(span);
  const context = { traceId: span.traceId, spanId: span.spanId, traceFlags: 1 };
  const start = hrTime(span.startMs);
  const end = hrTime(span.endMs);
  return {
    name: span.name,
    kind: KIND[span.kind],
    spanContext: () => context,
    parentSpanContext: span.parentSpanId ? { traceId: span.traceId, spanId: span.parentSpanId, traceFlags: 1 } : undefined,
    startTime: start,
    endTime: end,
    duration: hrTime(span.endMs - span.startMs),
    status: { code: span.error ? 2 : 0 },
    attributes,
    links: [],
    events: [],
    ended: true,
    resource: resources.get(resource),
    instrumentationScope: scope,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  } as unknown as ReadableSpan;
}
