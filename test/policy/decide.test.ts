import test from 'ava';
import { chance, unit } from '../../src/policy/decide.js';
import { pickWeighted, selectRoute, matches } from '../../src/policy/routing.js';
import { sampleLatency } from '../../src/policy/latency.js';
import { defaultRoute, type HttpRoute, type RequestMatch, type StringMatch } from '../../src/policy/config.js';
import type { RequestAttributes } from '../../src/policy/routing.js';

test('a decision is a pure function of the seed and the request identity', (t) => {
  t.is(unit(42, 'route', 'users.17'), unit(42, 'route', 'users.17'));
  t.not(unit(42, 'route', 'users.17'), unit(43, 'route', 'users.17'), 'another seed, another draw');
  t.not(unit(42, 'route', 'users.17'), unit(42, 'route', 'users.18'), 'another request, another draw');
  t.not(unit(42, 'ab', 'c'), unit(42, 'a', 'bc'), 'parts are separated');
});

test('decisions are uniform: 20 buckets each get their share of 100 000 draws', (t) => {
  const buckets = new Array<number>(20).fill(0);
  for (let i = 0; i < 100_000; i++) buckets[Math.floor(unit(7, 'x', String(i)) * 20)]!++;
  // chi-squared with 19 degrees of freedom: 43.8 is the 0.1 % critical value.
  const expected = 5000;
  const chi2 = buckets.reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
  t.true(chi2 < 43.8, `chi2 = ${chi2.toFixed(1)}`);
});

test('chance fires for its percentage of identities, and for the same ones every time', (t) => {
  let fired = 0;
  for (let i = 0; i < 20_000; i++) if (chance(30, 1, 'abort', `f.${i}`)) fired++;
  t.true(Math.abs(fired / 20_000 - 0.3) < 0.015, `${fired}`);
  t.true(chance(100, 1, 'x'));
  t.false(chance(0, 1, 'x'));
  const a = Array.from({ length: 100 }, (_, i) => chance(50, 9, 'k', String(i)));
  const b = Array.from({ length: 100 }, (_, i) => chance(50, 9, 'k', String(i)));
  t.deepEqual(a, b);
});

const dest = (subset: string, weight: number) => ({ host: 'reviews', subset, weight });

test('weighted choice follows the weights, relative to their sum as in Istio v1', (t) => {
  const dests = [dest('v1', 90), dest('v2', 10)];
  t.is(pickWeighted(dests, 0)?.subset, 'v1');
  t.is(pickWeighted(dests, 0.8999)?.subset, 'v1');
  t.is(pickWeighted(dests, 0.9)?.subset, 'v2');
  t.is(pickWeighted(dests, 0.99999)?.subset, 'v2');
  t.is(pickWeighted([dest('v1', 0), dest('v2', 100)], 0)?.subset, 'v2', 'a zero weight gets nothing');
  t.is(pickWeighted([dest('v1', 1), dest('v2', 3)], 0.3)?.subset, 'v2', 'weights are shares of their sum: 1 of 4 is 25 %');
  let v2 = 0;
  for (let i = 0; i < 10_000; i++) if (pickWeighted(dests, unit(3, 'route', String(i)))?.subset === 'v2') v2++;
  t.true(Math.abs(v2 - 1000) < 100, `${v2}`);
});

const m = (fields: Partial<RequestMatch>): RequestMatch => ({ headers: [], withoutHeaders: [], queryParams: [], ...fields });
const exact = (value: string): StringMatch => ({ kind: 'exact', value });
const route = (matches: RequestMatch[], subset: string): HttpRoute => ({ ...defaultRoute('reviews'), matches, destinations: [dest(subset, 100)] });
const req = (headers: RequestAttributes['headers'], path: string, more: Partial<RequestAttributes> = {}): RequestAttributes => ({
  path, method: 'GET', authority: 'reviews:9080', headers, port: 9080, source: { app: 'productpage', version: 'v1', namespace: 'default' }, ...more,
});

test('the first matching route wins; header and uri matches combine', (t) => {
  const routes = [
    route([m({ headers: [{ name: 'end-user', match: exact('jason') }], uri: { kind: 'prefix', value: '/reviews' } })], 'v2'),
    route([m({ headers: [{ name: 'x-canary', match: { kind: 'regex', value: 'tr?ue' } }] })], 'v3'),
    route([], 'v1'),
  ];
  t.is(selectRoute(routes, req({ 'end-user': 'jason' }, '/reviews/1'))?.route.destinations[0]!.subset, 'v2');
  t.is(selectRoute(routes, req({ 'end-user': 'jason' }, '/ratings'))?.route.destinations[0]!.subset, 'v1', 'the uri must match too');
  t.is(selectRoute(routes, req({ 'x-canary': 'true' }, '/'))?.index, 1);
  t.is(selectRoute(routes, req({ 'x-canary': 'untrue' }, '/'))?.index, 2, 'a regex matches the whole value');
  t.is(selectRoute(routes, req({}, '/'))?.index, 2);
  t.is(selectRoute(routes.slice(0, 2), req({}, '/')), undefined, 'no catch-all: no route (404 NR)');
  t.true(matches(m({ uri: exact('/a') }), req({}, '/a?x=1')), 'the query is not part of the uri');
});

test("Istio's other match conditions: method, query parameters, absent headers, the caller's labels, case", (t) => {
  t.true(matches(m({ method: exact('POST') }), req({}, '/', { method: 'POST' })));
  t.false(matches(m({ method: exact('POST') }), req({}, '/')));
  t.true(matches(m({ queryParams: [{ name: 'id', match: exact('7') }] }), req({}, '/a?id=7&x=1')));
  t.false(matches(m({ queryParams: [{ name: 'id', match: exact('7') }] }), req({}, '/a?id=8')));
  t.true(matches(m({ queryParams: [{ name: 'debug', match: { kind: 'present', value: '' } }] }), req({}, '/?debug=')), '`{}` matches a present parameter');
  t.false(matches(m({ withoutHeaders: [{ name: 'end-user', match: exact('jason') }] }), req({ 'end-user': 'jason' }, '/')));
  t.true(matches(m({ withoutHeaders: [{ name: 'end-user', match: exact('jason') }] }), req({}, '/')), 'an absent header passes withoutHeaders');
  t.true(matches(m({ sourceLabels: { app: 'productpage' } }), req({}, '/')));
  t.false(matches(m({ sourceLabels: { app: 'productpage', version: 'v2' } }), req({}, '/')));
  t.false(matches(m({ sourceNamespace: 'istio-system' }), req({}, '/')));
  t.true(matches(m({ uri: { kind: 'prefix', value: '/REVIEWS', ignoreCase: true } }), req({}, '/reviews/1')), 'ignoreUriCase');
  t.false(matches(m({ port: 8080 }), req({}, '/')));
  t.true(matches(m({ headers: [{ name: 'x', match: { kind: 'regex', value: '(a+)+$' } }] }), req({ x: 'aaaa' }, '/')));
  const evil = 'a'.repeat(5000) + '!';
  // A backtracking engine would take longer than the universe on this; RE2 answers at once,
  // so the test's own timeout is the judge, not a clock in an assertion.
  t.false(matches(m({ headers: [{ name: 'x', match: { kind: 'regex', value: '(a+)+$' } }] }), req({ x: evil }, '/')));
});

test('latency samples follow their distribution', (t) => {
  t.is(sampleLatency({ kind: 'constant', ms: 5 }, 0.3, 0.7), 5);
  const samples = Array.from({ length: 20_000 }, (_, i) => sampleLatency({ kind: 'percentiles', p50Ms: 5, p99Ms: 40 }, unit(1, 'a', String(i)), unit(1, 'b', String(i)))).sort((a, b) => a - b);
  const p50 = samples[10_000]!;
  const p99 = samples[19_800]!;
  t.true(Math.abs(p50 - 5) < 0.3, `p50 ${p50}`);
  t.true(Math.abs(p99 - 40) < 5, `p99 ${p99}`);
  const normal = Array.from({ length: 20_000 }, (_, i) => sampleLatency({ kind: 'normal', meanMs: 10, stddevMs: 2 }, unit(2, 'a', String(i)), unit(2, 'b', String(i))));
  const mean = normal.reduce((a, b) => a + b, 0) / normal.length;
  t.true(Math.abs(mean - 10) < 0.1, `mean ${mean}`);
  t.true(normal.every((v) => v >= 0), 'never negative');
});
