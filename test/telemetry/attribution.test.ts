import test from 'ava';
import { SpanAttribution, rootOf } from '../../src/telemetry/attribution.js';
import { ATTR, SIDECAR_SDK, type Span } from '../../src/telemetry/span.js';
import { RequestStats } from '../../src/telemetry/stats.js';
import { WindowBook } from '../../src/telemetry/windows.js';

// Honest counts: a request counts once it is answered, in the window it started in; a
// request never answered is not an error; an app's own spans are traced, not counted.

let ids = 0;
const server = (key: string, status: number, extra: Record<string, string | number | boolean> = {}): Span => ({
  traceId: 'a'.repeat(32),
  spanId: (++ids).toString(16).padStart(16, '0'),
  parentSpanId: undefined,
  name: 'backend',
  kind: 'server',
  startMs: 1_000,
  endMs: 1_050,
  service: 'backend',
  attributes: { 'telemetry.sdk.name': SIDECAR_SDK, [ATTR.requestKey]: key, [ATTR.status]: status, [ATTR.canonicalRevision]: 'v1', ...extra },
  error: status >= 500,
});

function setup(inFlight: Set<string>) {
  const stats = new RequestStats();
  const book = new WindowBook();
  const attribution = new SpanAttribution(stats, book, (flow, n) => inFlight.has(`${flow}.${n}`), () => 1_100);
  return { stats, book, attribution };
}

test('a request key names the flow request it belongs to, through retries, calls and mirrors', (t) => {
  t.deepEqual(rootOf('flow-1.17'), { flow: 'flow-1', n: 17, root: 'flow-1.17' });
  t.deepEqual(rootOf('jason.3/0/1~2'), { flow: 'jason', n: 3, root: 'jason.3' });
  t.deepEqual(rootOf('jason.3!1'), { flow: 'jason', n: 3, root: 'jason.3' });
  t.is(rootOf('curl'), undefined);
  t.is(rootOf(undefined), undefined);
});

test("a span of a request in flight waits for its answer, then counts", (t) => {
  const inFlight = new Set(['f.1']);
  const { stats, attribution } = setup(inFlight);
  attribution.add(server('f.1/0', 200));
  t.is(stats.service('backend', undefined, undefined).requests, 0, 'not yet: its request is unanswered');
  inFlight.delete('f.1');
  attribution.answered('f', 1);
  t.is(stats.service('backend', undefined, undefined).requests, 1);
  attribution.add(server('f.2/0', 200));
  t.is(stats.service('backend', undefined, undefined).requests, 2, 'an answered request counts at once');
});

test('at the end, spans of requests never answered are dropped: neither requests nor errors', (t) => {
  const inFlight = new Set(['f.1', 'f.2']);
  const { stats, attribution } = setup(inFlight);
  attribution.add(server('f.1/0', 504));
  attribution.add(server('f.2/0', 200));
  t.is(attribution.finish(), 2);
  const figures = stats.service('backend', undefined, undefined);
  t.is(figures.requests, 0);
  t.is(figures.errors, 0);
});

test("an app's own SDK spans are not counted, whatever status attribute they carry", (t) => {
  const { stats, attribution } = setup(new Set());
  attribution.add(server('f.1/0', 200));
  attribution.add(server('f.1/0', 200, { 'telemetry.sdk.name': 'opentelemetry' }));
  const old = server('f.2/0', 200, { 'telemetry.sdk.name': 'opentelemetry', 'http.status_code': 500 });
  attribution.add(old);
  const noSdk = server('f.3/0', 500);
  delete noSdk.attributes['telemetry.sdk.name'];
  attribution.add(noSdk);
  const figures = stats.service('backend', undefined, undefined);
  t.is(figures.requests, 1, "only the sidecar's span counts");
  t.is(figures.errors, 0);
});

test('a request counts in the window it started in, however late its answer', (t) => {
  const inFlight = new Set(['f.3']);
  const { stats, book, attribution } = setup(inFlight);
  // Requests 1..4 start before an event at request 5; the check at request 8 judges 5..7.
  book.open(new Map([['f', 5]]), 1_000);
  attribution.add(server('f.3/0', 500));
  attribution.add(server('f.5/0', 200));
  attribution.add(server('f.6/0', 503));
  inFlight.delete('f.3');
  attribution.answered('f', 3);
  const window = book.checkpoint(new Map([['f', 8]]), 2_000);
  const judged = stats.service('backend', undefined, { segments: window.segments, seconds: 1 });
  t.is(judged.requests, 2, 'request 3 answered late but started before the window');
  t.is(judged.errors, 1);
  t.is(stats.service('backend', undefined, undefined).requests, 3, 'the run counts all three');
});
