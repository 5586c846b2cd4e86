import test from 'ava';
import React from 'react';
import { render } from 'ink-testing-library';
import { ServicesPane } from '../../src/tui/components/services.js';
import { GraphPane } from '../../src/tui/components/graph.js';
import { LogsPane } from '../../src/tui/components/logs.js';
import { TraceList, Waterfall } from '../../src/tui/components/traces.js';
import { TimelinePane } from '../../src/tui/components/timeline.js';
import { Help, Startup } from '../../src/tui/components/chrome.js';
import { ConfigPane } from '../../src/tui/components/config.js';
import { PANES } from '../../src/tui/panes.js';
import { initialView } from '../../src/tui/view.js';
import { waterfall } from '../../src/tui/model.js';
import { recordedSnapshot, recordedSource, recordedTrace, TRACE_ID } from '../helpers/ui-fixtures.js';

const frame = (element: React.ReactElement) => {
  const { lastFrame, unmount } = render(element);
  const text = lastFrame() ?? '';
  unmount();
  return text;
};
const lines = (text: string) => text.split('\n');

test('Services shows each service with versions, pods, rate, success and percentiles', (t) => {
  const snapshot = recordedSnapshot();
  const links = { prometheus: snapshot.prometheus, grafana: snapshot.grafana, notes: snapshot.observabilityNotes };
  const text = frame(<ServicesPane rows={snapshot.services} sort="name" selected={0} width={100} height={14} entry="curl -H 'Host: productpage' http://127.0.0.1:1/productpage" links={links} />);
  const reviews = lines(text).find((l) => l.startsWith('reviews'))!;
  t.regex(reviews, /^reviews\s+v1 v2 v3\s+⊘●✗\s+24\.0\s+90\.0%\s+10\.0ms\s+20\.0ms\s+40\.0ms/);
  t.regex(lines(text).find((l) => l.startsWith('productpage'))!, /99\.6%.*1\.3s/);
  t.regex(lines(text).find((l) => l.startsWith('ratings'))!, /ratings\s+v1\s+●\s+0\.0\s+-\s+-/, 'no requests: no rates');
  t.regex(lines(text).find((l) => l.startsWith('details'))!, /▁.*▄.*█/, 'a sparkline of the rising rate');
  t.regex(text, /⊘ ejected by a caller/);
  t.regex(text, /try it: curl -H 'Host: productpage'/);
  t.regex(text, /Prometheus http:\/\/127\.0\.0\.1:9090/);
  t.regex(text, /Grafana not started: cannot pull/, 'why Grafana is missing, not just that it is');
});

test('Services sorts by rate, errors and p99', (t) => {
  const rows = recordedSnapshot().services;
  const names = (sort: 'rps' | 'errors' | 'p99') => lines(frame(<ServicesPane rows={rows} sort={sort} selected={0} width={100} height={12} />)).slice(1, 5).map((l) => l.split(/\s+/)[0]);
  t.is(names('errors')[0], 'reviews', 'the worst success rate first');
  t.is(names('p99')[0], 'productpage', 'the slowest first');
  t.is(names('rps')[3], 'ratings', 'the idle last');
});

test('Services fits an 80-column terminal', (t) => {
  const text = frame(<ServicesPane rows={recordedSnapshot().services} sort="name" selected={0} width={80} height={12} />);
  t.true(lines(text).every((l) => l.length <= 80), text);
  t.regex(text, /reviews/);
});

test('Graph draws edges from the gateway down, with rate, error share, and marks', (t) => {
  const snapshot = recordedSnapshot();
  const text = frame(<GraphPane edges={snapshot.edges} declared={recordedSource().declaredEdges()} services={snapshot.services} width={100} height={20} offset={0} />);
  const graph = lines(text);
  t.is(graph[0], 'istio-ingressgateway');
  t.regex(graph[1]!, /^└─▶ productpage 24\.0 rps 0\.4% err/);
  t.regex(text, /├─▶ details 24\.0 rps 0% err/);
  t.regex(text, /└─▶ reviews 24\.0 rps 12\.0% err.*reviews-v1-0 ⊘ ejected, reviews-v3-0 ✗/);
  t.regex(text, /└─▶ ratings no traffic/, 'a declared call without traffic is still drawn');
});

test('Logs follow the newest lines and filter by service, status class, flag, latency and side', (t) => {
  const rows = recordedSnapshot().logs;
  const shown = (filter: string) => frame(<LogsPane rows={rows} filter={filter} scroll={0} width={100} height={10} />);
  t.regex(shown(''), /5 of 5 lines/);
  t.regex(shown('status:5xx'), /2 of 5 lines match/);
  t.regex(shown('flag:UO'), /reviews-v1-0 .*503 UO/);
  t.regex(shown('>100ms'), /1250ms/);
  t.notRegex(shown('>100ms'), /details/);
  t.regex(shown('svc:reviews in'), /1 of 5 lines match/);
  t.regex(shown('ejected'), /EJECTED reviews-v1-0/, 'plain text finds outlier events too');
  t.regex(shown('status:nope'), /not understood: status:nope/);
  t.regex(shown('flag:DC'), /no line matches “flag:DC”/);
});

test('Logs scroll up from the newest line', (t) => {
  const rows = recordedSnapshot().logs;
  const text = frame(<LogsPane rows={rows} filter="" scroll={2} width={100} height={3} />);
  t.regex(text, /503 UO/);
  t.notRegex(text, /EJECTED/, 'the two newest lines are below');
  t.regex(text, /scrolled up 2/);
});

test('Traces list shows root, duration, spans and failures; failed only and slowest first', (t) => {
  const rows = recordedSnapshot().traces;
  const all = frame(<TraceList rows={rows} selected={0} failedOnly={false} order="recent" filter="" width={100} height={10} />);
  t.regex(all, /GET productpage\/productpage\s+1\.3s\s+7\s+3/);
  t.regex(all, /✗ failed/);
  const failed = frame(<TraceList rows={rows} selected={0} failedOnly order="recent" filter="" width={100} height={10} />);
  t.regex(failed, /1 traces/);
  t.regex(failed, /3\.0ms/);
  const slowest = frame(<TraceList rows={rows} selected={0} failedOnly={false} order="slowest" filter="" width={100} height={10} />);
  t.regex(lines(slowest)[1]!, /1\.3s/);
});

test('the waterfall indents by parent, scales bars to the trace, marks retries and faults', (t) => {
  const fall = waterfall(recordedTrace);
  const text = frame(<Waterfall rows={fall.rows} totalMs={fall.durationMs} traceId={TRACE_ID} selected={0} width={100} height={20} />);
  const rows = lines(text);
  t.regex(rows[0]!, /^trace 4bf92f.* 1\.3s {2}7 spans/);
  t.regex(rows[1]!, /^istio-ingressgateway → productpage v1 +█{40,} +1\.3s/, 'the root spans the whole width');
  t.regex(rows[2]!, /^ {2}productpage v1 GET \/productpage/);
  t.regex(text, /^ {4}productpage → reviews v1 UF/m);
  t.regex(text, /^ {4}productpage → reviews v2 ↻/m);
  t.regex(text, /^ {8}reviews → ratings v1 ⚡delay DI/m);
  t.regex(text, /^ {10}ratings v1 GET \/ratings\/0 +█ +20\.0ms/m, 'a short span is a short bar near the end');
});

test('the selected span says why it failed or was slow, naming the rule', (t) => {
  const fall = waterfall(recordedTrace);
  const at = (label: RegExp) => fall.rows.findIndex((r) => label.test(r.label + (r.retry ? ' retry' : '')));
  const failed = frame(<Waterfall rows={fall.rows} totalMs={fall.durationMs} traceId={TRACE_ID} selected={at(/→ reviews v1/)} width={100} height={20} />);
  t.regex(failed, /UF: the upstream could not be connected to/);
  const retry = frame(<Waterfall rows={fall.rows} totalMs={fall.durationMs} traceId={TRACE_ID} selected={at(/→ reviews v2 retry/)} width={100} height={20} />);
  t.regex(retry, /attempt 2: a retry of an earlier failed attempt/);
  t.regex(retry, /rule: scenarios\/bookinfo\.yaml:41/);
  const slow = frame(<Waterfall rows={fall.rows} totalMs={fall.durationMs} traceId={TRACE_ID} selected={at(/→ ratings/)} width={100} height={20} />);
  t.regex(slow, /DI: the request was delayed by an injected fault \(fault\.delay\)/);
  t.regex(slow, /rule: VirtualService ratings http\[0\]\.fault\.delay \(scenarios\/bookinfo\.yaml:64\)/);
});

test('Timeline shows the position, the narration boxed, the next event and the checks', (t) => {
  const text = frame(<TimelinePane view={recordedSnapshot().timeline} width={100} height={24} />);
  t.regex(lines(text)[0]!, /^ 1:05 .*2:00$/);
  t.regex(text, /║ +Fault injection: ratings answers Jason's pages 800 ms late\./);
  t.regex(text, /next in 0:15: 1:20 {2}check p99\(productpage\) > 500ms {3}\(n: now\)/);
  t.regex(text, /✓ PASS \[40s\] requests\(ratings\) < 5 {2}measured 0/);
  t.regex(text, /✗ FAIL \[60s\] rps\(ratings\) > 10 {2}measured 4\.2/);
});

test("Help lists every key, each pane by its number, and each pane's own keys", (t) => {
  const text = frame(<Help panes={PANES} width={120} />);
  for (const key of ['Tab, Shift-Tab', 'Enter', 'Esc', '/', 'p ', 'n ', '?', 'q, Ctrl-C']) t.true(text.includes(key), key);
  PANES.forEach((pane, i) => t.regex(text, new RegExp(`${i + 1} +${pane.name}: `)));
  t.regex(text, /s +Services: sort by name, rps, errors, p99/);
  t.regex(text, /f +Traces: failed traces only/);
  t.regex(text, /instructor: run the next timeline event now/);
});

test('Config shows the Istio resources in force, each rule with its share of the traffic', (t) => {
  const text = frame(<ConfigPane view={recordedSnapshot().config} offset={0} width={110} height={12} />);
  t.regex(text, /Istio resources in force \(config v4\)/);
  t.regex(text, /VirtualService reviews +mesh: scenarios\/bookinfo\.yaml:61/);
  t.regex(text, /reviews http\[0\] end-user=jason → reviews v2 +17(\.0)?% +4(\.0)? rps/);
  t.regex(text, /reviews http\[1\] all → reviews v1 +83(\.0)?% +20(\.0)? rps/);
  t.regex(text, /subsets v1\(version=v1\)/);
  t.regex(text, /details: no VirtualService, Istio's default route/);
});

test('the panes are a registry: each has a unique name, a summary, rows and a view', (t) => {
  t.deepEqual(PANES.map((p) => p.name), ['Services', 'Graph', 'Logs', 'Traces', 'Timeline', 'Config']);
  const source = recordedSource();
  for (const pane of PANES) {
    const ctx = { snapshot: source.snapshot(), source, view: initialView, width: 100, height: 20 };
    t.true(pane.summary.length > 10, pane.name);
    t.true(pane.rows(ctx) >= 0);
    t.true(frame(pane.render(ctx)).length > 0, pane.name);
  }
});

test('Startup shows each instance as it comes up, and a failure plainly', (t) => {
  const snapshot = { ...recordedSnapshot(), phase: 'starting' as const, startup: [
    { id: 'productpage-v1-0', service: 'productpage', state: 'ready' as const },
    { id: 'reviews-v1-0', service: 'reviews', state: 'starting' as const },
  ] };
  const text = frame(<Startup snapshot={snapshot} tick={0} width={80} />);
  t.regex(text, /✓ productpage-v1-0 +ready/);
  t.regex(text, /⠋ reviews-v1-0 +starting/);
  t.regex(text, /1\/2 ready/);
  const failed = frame(<Startup snapshot={{ ...snapshot, phase: 'failed', message: 'reviews-v1-0 exited with code 3' }} tick={0} width={80} />);
  t.regex(failed, /could not start/);
  t.regex(failed, /reviews-v1-0 exited with code 3/);
});

test('Graph marks mutual TLS edges, and v draws it between versions, as Kiali\'s versioned-app graph', (t) => {
  const snapshot = recordedSnapshot();
  const services = frame(<GraphPane edges={snapshot.edges} declared={[]} services={snapshot.services} width={100} height={20} offset={0} />);
  t.regex(services, /details 24\.0 rps 0% err 🔒mTLS/);
  t.notRegex(services, /reviews 24\.0 rps 12\.0% err 🔒/, 'a plaintext edge has no lock');
  const versions = frame(<GraphPane edges={snapshot.versionedEdges} declared={[]} services={[]} width={100} height={20} offset={0} versions />);
  t.regex(versions, /productpage v1 24\.0 rps/);
  for (const v of ['v1', 'v2', 'v3']) t.regex(versions, new RegExp(`─▶ reviews ${v} 8\\.0 rps`));
  t.regex(versions, /reviews v2 8\.0 rps 36\.0% err 🔒mTLS\n[│ ]+└─▶ ratings v1/);
  t.regex(versions, /^versions \(v: services\)/m);
  const pane = PANES.find((p) => p.name === 'Graph')!;
  const ctx = { snapshot, source: recordedSource(), view: { ...initialView, pane: 'Graph' }, width: 100, height: 20 };
  t.deepEqual(pane.keys!.find((k) => k.key === 'v')!.act(ctx), { type: 'versions' });
  t.true(pane.rows({ ...ctx, view: { ...ctx.view, versions: true } }) > pane.rows(ctx), 'more nodes by version');
});

test('a span says who called and how: the caller\'s SPIFFE ID over mutual TLS, and a denial\'s policy', async (t) => {
  const { explain } = await import('../../src/tui/model.js');
  const { ATTR } = await import('../../src/telemetry/span.js');
  const server = {
    traceId: TRACE_ID, spanId: 'a1', parentSpanId: undefined, name: 'x', kind: 'server' as const, startMs: 0, endMs: 1, service: 'ratings', error: false,
    attributes: {
      [ATTR.status]: 403, [ATTR.responseFlags]: '-', [ATTR.connectionSecurity]: 'mutual_tls', [ATTR.peerPrincipal]: 'spiffe://cluster.local/ns/default/sa/reviews',
      [ATTR.ruleName]: 'AuthorizationPolicy ratings-viewer (none)', [ATTR.rule]: 'authz.yaml:3',
    },
  };
  const why = explain(waterfall([server]).rows[0]!);
  t.deepEqual(why, [
    '403: RBAC: access denied, by an AuthorizationPolicy of this workload',
    'rule: AuthorizationPolicy ratings-viewer (none) (authz.yaml:3)',
    'identity: mutual TLS from spiffe://cluster.local/ns/default/sa/reviews',
  ]);
  const plain = explain(waterfall([{ ...server, attributes: { [ATTR.status]: 200, [ATTR.connectionSecurity]: 'none' } }]).rows[0]!);
  t.deepEqual(plain, ['identity: plaintext: no caller identity']);
});
