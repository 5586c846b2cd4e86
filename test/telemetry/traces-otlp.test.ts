import test from 'ava';
import { analyseTrace, TraceStore } from '../../src/telemetry/traces.js';
import { decodeSpans, encodeResourceSpans, encodeSpanBytes, encodeSpans, joinEncodedSpans, msToNanos, OtlpFormatError, type ResourceSpans } from '../../src/telemetry/otlp.js';
import { ATTR, type Span } from '../../src/telemetry/span.js';
import { extractContext, formatTraceparent, newSpanId, newTraceId, parseB3Single, parseTraceparent } from '../../src/telemetry/trace-context.js';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const span = (spanId: string, parent: string | undefined, service: string, kind: Span['kind'], startMs = 0, endMs = 10): Span => ({
  traceId: T, spanId, parentSpanId: parent, name: `${service} ${kind}`, kind, startMs, endMs, service, attributes: { [ATTR.status]: 200 }, error: false,
});

// gateway client → productpage server → productpage client → reviews server → reviews client → ratings server
const bookinfoTrace = [
  span('0000000000000001', undefined, 'istio-ingressgateway', 'client', 0, 30),
  span('0000000000000002', '0000000000000001', 'productpage', 'server', 1, 29),
  span('0000000000000003', '0000000000000002', 'productpage', 'client', 2, 20),
  span('0000000000000004', '0000000000000003', 'reviews', 'server', 3, 19),
  span('0000000000000005', '0000000000000004', 'reviews', 'client', 4, 10),
  span('0000000000000006', '0000000000000005', 'ratings', 'server', 5, 9),
];

test('a trace is complete when every parent is present; depth counts services', (t) => {
  const shape = analyseTrace(bookinfoTrace);
  t.true(shape.complete);
  t.is(shape.depth, 3);
  t.is(shape.spanCount, 6);
  t.is(shape.durationMs, 30);
  t.deepEqual(shape.services, ['productpage', 'reviews', 'ratings']);
  t.is(shape.root?.spanId, '0000000000000001');
});

test('a missing parent makes a trace incomplete', (t) => {
  const shape = analyseTrace(bookinfoTrace.filter((s) => s.spanId !== '0000000000000003'));
  t.false(shape.complete);
  t.is(shape.depth, 1 + 1, 'still measured from each piece');
});

test('the store settles quiet traces, counts them, and folds in stragglers', (t) => {
  const store = new TraceStore(1000);
  for (const s of bookinfoTrace.slice(0, 5)) store.add(s, 0);
  store.tick(500);
  t.deepEqual(store.summary(), { count: 1, complete: 1, maxDepth: 2 }, 'open traces count as they stand');
  store.tick(1000);
  t.is(store.recent().length, 1);
  store.add(bookinfoTrace[5]!, 1200);
  store.tick(2500, true);
  t.deepEqual(store.summary(), { count: 1, complete: 1, maxDepth: 3 }, 'the straggler joined its trace');
});

test('spans survive an OTLP/JSON round trip', (t) => {
  const original: Span = { ...bookinfoTrace[3]!, startMs: 1_700_000_000_123.456, endMs: 1_700_000_000_130.5, attributes: { [ATTR.status]: 503, [ATTR.responseFlags]: 'UF', [ATTR.retry]: true, ratio: 0.25 }, error: true };
  const body = JSON.parse(encodeSpans({ 'service.name': 'reviews', 'service.version': 'v2' }, [original]));
  const { spans, rejected } = decodeSpans(body);
  t.is(rejected, 0);
  t.like(spans[0], { traceId: T, spanId: original.spanId, parentSpanId: original.parentSpanId, kind: 'server', service: 'reviews', error: true });
  t.is(Math.round(spans[0]!.startMs * 1000), Math.round(original.startMs * 1000));
  t.like(spans[0]!.attributes, { [ATTR.status]: 503, [ATTR.responseFlags]: 'UF', [ATTR.retry]: true, ratio: 0.25, 'service.version': 'v2' });
});

test('spans encoded one by one and joined as bytes make the same export request', (t) => {
  const groups: ResourceSpans[] = [
    { resource: { 'service.name': 'productpage' }, spans: bookinfoTrace.slice(0, 2) },
    { resource: { 'service.name': 'reviews', 'service.version': 'v2' }, spans: bookinfoTrace.slice(2) },
  ];
  const joined = joinEncodedSpans(groups.map((g) => ({ resource: g.resource, spans: g.spans.map(encodeSpanBytes) })), { name: 's', version: '1' });
  t.deepEqual(JSON.parse(joined.toString('utf8')), JSON.parse(encodeResourceSpans(groups, { name: 's', version: '1' })));
  t.is(decodeSpans(JSON.parse(joined.toString('utf8'))).spans.length, bookinfoTrace.length);
});

test('OTLP ids in base64 and times as {low, high} are read too; bad spans are counted', (t) => {
  const { spans, rejected } = decodeSpans({
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'sdk' } }] },
      scopeSpans: [{ spans: [
        { traceId: Buffer.from(T, 'hex').toString('base64'), spanId: Buffer.from('00f067aa0ba902b7', 'hex').toString('base64'), name: 'a', kind: 3, startTimeUnixNano: { low: 1000000, high: 0 }, endTimeUnixNano: '2000000' },
        { traceId: 'nope', spanId: '00f067aa0ba902b7', startTimeUnixNano: '1', endTimeUnixNano: '2' },
      ] }],
    }],
  });
  t.is(rejected, 1);
  t.like(spans[0], { traceId: T, spanId: '00f067aa0ba902b7', kind: 'client', startMs: 1, endMs: 2, service: 'sdk' });
  t.throws(() => decodeSpans({ spans: [] }), { instanceOf: OtlpFormatError });
});

test('W3C traceparent is parsed strictly and formatted back', (t) => {
  const header = `00-${T}-00f067aa0ba902b7-01`;
  t.deepEqual(parseTraceparent(header), { traceId: T, spanId: '00f067aa0ba902b7', sampled: true });
  t.is(formatTraceparent(T, '00f067aa0ba902b7'), header);
  t.is(parseTraceparent(`00-${'0'.repeat(32)}-00f067aa0ba902b7-01`), undefined, 'an all-zero trace id is invalid');
  t.is(parseTraceparent(`ff-${T}-00f067aa0ba902b7-01`), undefined, 'version ff is invalid');
  t.is(parseTraceparent(`00-${T}-00f067aa0ba902b7-01-extra`), undefined, 'version 00 has four parts');
  t.like(parseTraceparent(`00-${T}-00f067aa0ba902b7-00`), { sampled: false });
});

test('B3, single and multi header, is read when no traceparent came', (t) => {
  t.deepEqual(parseB3Single(`${T}-00f067aa0ba902b7-1`), { traceId: T, spanId: '00f067aa0ba902b7', sampled: true });
  t.deepEqual(parseB3Single('a3ce929d0e0e4736-00f067aa0ba902b7'), { traceId: `${'0'.repeat(16)}a3ce929d0e0e4736`, spanId: '00f067aa0ba902b7', sampled: true }, '64-bit ids are padded');
  t.deepEqual(extractContext({ 'x-b3-traceid': T, 'x-b3-spanid': '00f067aa0ba902b7', 'x-b3-sampled': '0' }), { traceId: T, spanId: '00f067aa0ba902b7', sampled: false });
  t.is(extractContext({ traceparent: `00-${T}-1111111111111111-01`, b3: `${T}-2222222222222222-1` })?.spanId, '1111111111111111', 'traceparent wins');
  t.regex(newTraceId(), /^[0-9a-f]{32}$/);
  t.not(newSpanId(), newSpanId());
});

test('the access log line a sidecar writes by hand is the JSON of an AccessLogEntry, whatever its strings hold', async (t) => {
  const { recordRequest } = await import('../../src/sidecar/context.js');
  const { parseLogLine } = await import('../../src/telemetry/access-log.js');
  const lines: string[] = [];
  const recorded: unknown[] = [];
  const peer = { workload: 'w"x', namespace: 'default', app: 'a', version: 'v1', canonicalService: 'a', canonicalRevision: 'v1' };
  const ctx = {
    boot: { instance: 'a-v1-0' }, self: peer,
    metrics: { requests: { record: (...args: unknown[]) => recorded.push(args) } },
    log: { text: (line: string) => lines.push(line) },
  } as unknown as Parameters<typeof recordRequest>[0];
  recordRequest(ctx, {
    reporter: 'source', startMs: 1_700_000_000_000, endMs: 1_700_000_000_012.4, method: 'GET', path: '/a"b\\c?d=é\n', authority: 'svc:8080',
    status: 503, flags: ['UF', 'URX'], details: 'upstream_reset_before_response_started{connection_failure}', bytesReceived: 0, bytesSent: 91,
    upstreamHost: '127.0.0.1:1', upstreamCluster: 'outbound|8080||svc.default.svc.cluster.local', upstreamServiceTime: null, attempts: 3,
    requestId: 'id', traceparent: `00-${T}-00f067aa0ba902b7-01`, userAgent: null, routeName: null, source: peer, destination: peer, destinationService: 'svc',
    requestHeaderBytes: 10, responseHeaderBytes: 20, forwardedFor: null, upstreamLocalAddress: null, downstreamLocalAddress: '127.0.0.1:15001',
    downstreamRemoteAddress: '127.0.0.1:40000', serverName: null, security: { mtls: false, sourcePrincipal: undefined, destinationPrincipal: undefined },
  });
  const record = parseLogLine(lines[0]!);
  t.is(record.kind, 'access');
  t.like(record.kind === 'access' ? record.entry : {}, {
    start_time: '2023-11-14T22:13:20.000Z', path: '/a"b\\c?d=é\n', response_code: 503, response_flags: 'UF,URX', duration: 12,
    upstream_service_time: null, upstream_request_attempt_count: 3, user_agent: null, workload: 'w"x', reporter: 'source', bytes_sent: 91,
  });
  t.is(recorded.length, 1, 'the request is counted once');
});

test('times whose fraction rounds up to a whole millisecond encode to the right nanoseconds', (t) => {
  t.is(msToNanos(1_700_000_000_123.9996), '1700000000124000000');
  // Epoch milliseconds in a double resolve to about 0.24 us: a microsecond either way is all we ask.
  t.is(msToNanos(1_700_000_000_000.0004).length, 19, 'never an extra digit');
  t.true(Math.abs(Number(msToNanos(1_700_000_000_000.0004)) / 1e6 - 1_700_000_000_000) <= 0.001);
  t.is(msToNanos(1_700_000_000_123.456), '1700000000123456000');
  for (const ms of [1_700_000_000_999.9999, 1_795_600_000_000.5, 12.25]) {
    const { spans } = decodeSpans(JSON.parse(encodeSpans({ 'service.name': 's' }, [{ ...bookinfoTrace[0]!, startMs: ms, endMs: ms }])));
    t.true(Math.abs(spans[0]!.startMs - ms) < 0.001, `${ms} came back as ${spans[0]!.startMs}`);
  }
});
