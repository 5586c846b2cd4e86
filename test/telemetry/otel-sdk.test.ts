import test from 'ava';
import http from 'node:http';
import { context, trace, SpanKind } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { SpanExporter } from '@opentelemetry/sdk-trace-node';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { loadText, startMesh } from '../helpers/mesh.js';
import { analyseTrace } from '../../src/telemetry/traces.js';
import { otelEnvironment } from '../../src/runtime/pod-spec.js';
import type { MeshSession } from '../../src/mesh/session.js';

// An application's own OpenTelemetry SDK sends its spans to mesh-sim's collector, over
// OTLP/HTTP in JSON or in binary Protobuf (the default of most SDKs), or over gRPC on
// the same endpoint, and they join the sidecars' spans of the same trace.

const scenario = `
name: sdk
services:
  frontend:
    latency: 2ms
    calls: [backend]
  backend:
    latency: 1ms
`;

const sdkSpansJoin = test.macro(async (t, makeExporter: (session: MeshSession) => SpanExporter) => {
  const mesh = await startMesh(await loadText(scenario));
  const { session } = mesh;
  const exporter = makeExporter(session);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout-client' }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('mesh-sim-test');
  const propagator = new W3CTraceContextPropagator();
  const ingress = session.instances.get('istio-ingressgateway')!.started!.ingress!;
  let traceId = '';
  try {
    await tracer.startActiveSpan('buy', { kind: SpanKind.CLIENT }, async (span) => {
      traceId = span.spanContext().traceId;
      const headers: Record<string, string> = { host: 'frontend:8080' };
      propagator.inject(trace.setSpan(context.active(), span), headers, { set: (carrier, key, value) => ((carrier as Record<string, string>)[key] = value) });
      // Plain HTTP, as curl sends it: fetch would drop the Host header.
      const status = await new Promise<number>((resolve, reject) => {
        http.get({ host: ingress.host, port: ingress.port, path: '/buy', headers }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        }).on('error', reject);
      });
      t.is(status, 200);
      span.end();
    });
    await provider.forceFlush();
  } finally {
    await provider.shutdown();
    await session.finish();
  }
  const spans = session.traces.spansOf(traceId);
  t.truthy(spans, 'the trace reached the collector');
  const sdkSpan = spans!.find((s) => s.service === 'checkout-client');
  t.truthy(sdkSpan, "the SDK's span is in the trace");
  t.is(sdkSpan!.parentSpanId, undefined, "the SDK's span is the root");
  const gateway = spans!.find((s) => s.service === 'istio-ingressgateway')!;
  t.is(gateway.parentSpanId, sdkSpan!.spanId, "the gateway's span is a child of the SDK's");
  const shape = analyseTrace(spans!);
  t.true(shape.complete);
  t.deepEqual(shape.services.sort(), ['backend', 'frontend']);
  t.is(shape.depth, 2);
});

test.serial("a real OpenTelemetry SDK's spans, in OTLP/HTTP JSON, join the sidecars' spans of the same trace", sdkSpansJoin,
  (session) => new JsonExporter({ url: `${session.collectorUrl}/v1/traces`, headers: session.collectorHeaders }));

/** Makes an exporter while the process's environment is what mesh-sim gives a program of one's own (frontend's). */
function toldByMeshSim<T>(session: MeshSession, make: () => T, extra: Record<string, string> = {}): T {
  const plan = session.instancePlans.find((p) => p.service === 'frontend')!;
  const secret = session.collectorHeaders.authorization!.replace(/^Bearer /, '');
  const told = { ...otelEnvironment(session.collectorUrl!, plan, secret), ...extra };
  const saved = { ...process.env };
  Object.assign(process.env, told);
  try {
    // The SDK reads the endpoint, headers and protocol as it is made.
    return make();
  } finally {
    for (const key of Object.keys(told)) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
}

test.serial("in OTLP/HTTP Protobuf too, configured only by the environment mesh-sim gives a program of one's own", sdkSpansJoin,
  (session) => toldByMeshSim(session, () => new ProtobufExporter()));

test.serial('over OTLP/gRPC too (gzip), on the same endpoint, configured by the same environment', sdkSpansJoin,
  (session) => toldByMeshSim(session, () => new GrpcExporter(), { OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }));
