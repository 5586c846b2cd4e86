// The router on its own, against real upstreams on 127.0.0.1: routes and their
// destinations, timeouts, retries, the connection pool, mirrors, and configured answers.
import test from 'ava';
import type { ServerResponse } from 'node:http';
import { outboundHarness, type Handler } from '../helpers/outbound.js';
import { ATTR } from '../../src/telemetry/span.js';

const base = `
name: t
services:
  b:
    port: 9080
    versions: {v1: {}, v2: {}}
`;
const dr = `
  - apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata: {name: b}
    spec: {host: b, subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}
`;
const vs = (http: string) => `
  - apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: b}
    spec:
      hosts: [b]
      http: ${http}
`;
const slow = (ms: number): Handler => (_req, res) => setTimeout(() => res.writeHead(200).end('slow'), ms);
const failing = (status: number): Handler => (_req, res) => res.writeHead(status).end();

test('the first matching route wins and its destination is drawn by weight', async (t) => {
  const h = await outboundHarness(base + 'istio:' + dr + vs(`
        - match: [{headers: {end-user: {exact: jason}}}]
          route: [{destination: {host: b, subset: v2}}]
        - route: [{destination: {host: b, subset: v1}, weight: 3}, {destination: {host: b, subset: v2}, weight: 1}]`));
  try {
    await Promise.all(Array.from({ length: 10 }, () => h.call('b', '/', { 'end-user': 'jason' })));
    t.is(h.received.get('b-v2-0')?.length, 10);
    await Promise.all(Array.from({ length: 400 }, () => h.call('b')));
    const v2 = (h.received.get('b-v2-0')?.length ?? 0) - 10;
    t.true(v2 > 60 && v2 < 140, `v2 got ${v2} of 400 at weight 1 of 4`);
  } finally {
    await h.close();
  }
});

test('no matching route is 404 NR; a subset no DestinationRule defines is 503 NC', async (t) => {
  const h = await outboundHarness(base + 'istio:' + vs(`
        - match: [{uri: {prefix: /api}}]
          route: [{destination: {host: b, subset: v3}}]`));
  try {
    t.is((await h.call('b', '/other')).status, 404);
    const nc = await h.call('b', '/api/x');
    t.is(nc.status, 503);
    const [nr, cluster] = h.log();
    t.like(nr, { response_flags: 'NR', response_code_details: 'route_not_found' });
    t.like(cluster, { response_flags: 'NC', response_code_details: 'cluster_not_found' });
  } finally {
    await h.close();
  }
});

test('the route timeout answers 504 UT; per-try timeouts are retried and end in UT,URX', async (t) => {
  const h = await outboundHarness(base + 'istio:' + vs(`
        - match: [{uri: {prefix: /whole}}]
          timeout: 100ms
          route: [{destination: {host: b}}]
        - timeout: 2s
          retries: {attempts: 2, perTryTimeout: 50ms, retryOn: 5xx}
          route: [{destination: {host: b}}]`), { b: slow(300) });
  try {
    const whole = await h.call('b', '/whole');
    t.is(whole.status, 504);
    // The 504 itself says the timeout fired before the app's answer at 300 ms; the time
    // says it waited for it (no upper bound: a loaded machine may answer late).
    t.true(whole.ms >= 95, `${whole.ms} ms`);
    const tries = await h.call('b', '/tries');
    t.is(tries.status, 504);
    const [first, second] = h.log();
    t.like(first, { response_flags: 'UT', response_code_details: 'response_timeout' });
    t.like(second, { response_flags: 'UT,URX', response_code_details: 'upstream_per_try_timeout', upstream_request_attempt_count: 3 });
    const attempts = h.spans.filter((s) => s.attributes[ATTR.path] === '/tries');
    t.deepEqual(attempts.map((s) => s.attributes[ATTR.retry]), [false, true, true], 'each attempt is its own span, marked as a retry');
  } finally {
    await h.close();
  }
});

test("Istio's default retries leave an app's 503 alone; retryOn 5xx retries it", async (t) => {
  let calls = 0;
  const seen = new Set<string>();
  // Each path fails the first time it is asked, then answers.
  const flaky: Handler = (req, res) => {
    calls++;
    const first = !seen.has(req.url!);
    seen.add(req.url!);
    res.writeHead(first ? 503 : 200).end();
  };
  const h = await outboundHarness(base + 'istio:' + vs(`
        - match: [{uri: {prefix: /retry}}]
          retries: {attempts: 2, retryOn: 5xx}
          route: [{destination: {host: b}}]
        - route: [{destination: {host: b}}]`), { b: flaky });
  try {
    t.is((await h.call('b', '/plain')).status, 503, 'the default policy does not retry a 503');
    t.is(calls, 1);
    t.is((await h.call('b', '/retry')).status, 200);
    t.is(calls, 3);
  } finally {
    await h.close();
  }
});

test('when the retry budget (maxRetries) is spent, a retriable failure is not retried and says UO', async (t) => {
  const h = await outboundHarness(base + 'istio:' + vs(`
        - retries: {attempts: 3, retryOn: 5xx}
          route: [{destination: {host: b}}]`) + `
  - apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata: {name: b}
    spec: {host: b, trafficPolicy: {connectionPool: {http: {maxRetries: 1}}}}
`, { b: (_req, res) => setTimeout(() => res.writeHead(503).end(), 40) });
  try {
    const answers = await Promise.all(Array.from({ length: 6 }, () => h.call('b')));
    t.true(answers.every((a) => a.status === 503));
    const flags = h.log().map((e) => e.response_flags).sort();
    t.deepEqual(flags, ['UO', 'UO', 'UO', 'UO', 'UO', 'URX'], 'one request holds the only place and retries until its attempts run out; the others overflow');
  } finally {
    await h.close();
  }
});

test('past maxConnections and the pending queue, requests overflow at once with 503 UO and x-envoy-overloaded', async (t) => {
  const held: ServerResponse[] = [];
  let released = false;
  const h = await outboundHarness(base + 'istio:' + `
  - apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata: {name: b}
    spec: {host: b, trafficPolicy: {connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}}}
`, { b: (_req, res) => (released ? res.writeHead(200).end() : held.push(res)) });
  try {
    const first = h.call('b');
    const second = h.call('b');
    // Both are in: one holds the only connection, the other waits in the pending queue.
    await new Promise((r) => setTimeout(r, 100));
    const third = await h.call('b');
    t.is(third.status, 503);
    t.is(third.headers['x-envoy-overloaded'], 'true');
    // At once: it was answered while the app still held the others (no timing needed).
    t.true(held.length >= 1 && held.every((res) => !res.writableEnded), 'an overflow is answered at once, not queued');
    released = true;
    for (const res of held) res.writeHead(200).end();
    t.deepEqual([(await first).status, (await second).status], [200, 200], 'the queued one went when the first was done');
    t.true(h.log().some((e) => e.response_flags === 'UO'));
  } finally {
    for (const res of held) if (!res.writableEnded) res.end();
    await h.close();
  }
});

test('a mirror sends a copy to its subset with -shadow on the Host, and the answer is the primary\'s', async (t) => {
  const h = await outboundHarness(base + 'istio:' + dr + vs(`
        - route: [{destination: {host: b, subset: v1}}]
          mirror: {host: b, subset: v2}
          mirrorPercentage: {value: 100}`), { 'b-v2': failing(500) });
  try {
    const answer = await h.call('b', '/x');
    t.is(answer.status, 200, "the mirror's 500 is thrown away");
    await new Promise((r) => setTimeout(r, 100));
    t.is(h.received.get('b-v2-0')?.[0]?.host, 'b-shadow:9080');
    t.is(h.spans.filter((s) => s.attributes[ATTR.mirror] === true).length, 1);
  } finally {
    await h.close();
  }
});

test('direct responses, redirects, rewrites and header operations', async (t) => {
  const h = await outboundHarness(base + 'istio:' + vs(`
        - match: [{uri: {exact: /teapot}}]
          directResponse: {status: 418, body: {string: short and stout}}
        - match: [{uri: {exact: /old}}]
          redirect: {uri: /new, redirectCode: 302}
        - match: [{uri: {prefix: /v1/}}]
          rewrite: {uri: /api/}
          headers:
            request: {set: {x-route: v1}, remove: [x-secret]}
            response: {add: {x-served-by: mesh-sim}}
          route: [{destination: {host: b}}]`));
  try {
    const teapot = await h.call('b', '/teapot');
    t.is(teapot.status, 418);
    t.is(teapot.body, 'short and stout\n');
    const moved = await h.call('b', '/old');
    t.is(moved.status, 302);
    t.is(moved.headers.location, 'http://b:9080/new');
    const rewritten = await h.call('b', '/v1/items?id=3', { 'x-secret': 's' });
    t.is(rewritten.headers['x-served-by'], 'mesh-sim');
    const seen = [...h.received.values()].flat()[0]!;
    t.is(seen['x-route'], 'v1');
    t.is(seen['x-secret'], undefined);
    t.is(h.received.size, 1);
    const entries = h.log();
    t.like(entries[0], { response_code_details: 'direct_response', response_flags: '-' });
  } finally {
    await h.close();
  }
});

test('a Host naming no service is 404 NR and labelled unknown: no caller can grow the metrics without bound', async (t) => {
  const h = await outboundHarness(base);
  try {
    for (let i = 0; i < 50; i++) t.is((await h.call(`nosuch${i}`)).status, 404);
    const text = await h.metrics.registry.metrics();
    t.false(/nosuch/.test(text), 'no series names the made-up hosts');
    t.is((text.match(/^istio_requests_total\{/gm) ?? []).length, 1, 'one series for them all');
    t.regex(text, /istio_requests_total\{[^}]*destination_service="unknown"[^}]*response_code="404"[^}]*response_flags="NR"[^}]*\} 50/);
  } finally {
    await h.close();
  }
});
