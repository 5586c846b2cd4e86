import test from 'ava';
import { chance, unit } from '../../src/policy/decide.js';
import { pickWeighted, selectRoute, matches } from '../../src/policy/routing.js';
import { sampleLatency } from '../../src/policy/latency.js';
import type { Route } from '../../src/scenario/model.js';

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

test('weighted choice follows the weights', (t) => {
  const dests = [{ version: 'v1', weight: 90 }, { version: 'v2', weight: 10 }];
  t.is(pickWeighted(dests, 0), 'v1');
  t.is(pickWeighted(dests, 0.8999), 'v1');
  t.is(pickWeighted(dests, 0.9), 'v2');
  t.is(pickWeighted(dests, 0.99999), 'v2');
  t.is(pickWeighted([{ version: 'v1', weight: 0 }, { version: 'v2', weight: 100 }], 0), 'v2', 'a zero weight gets nothing');
  let v2 = 0;
  for (let i = 0; i < 10_000; i++) if (pickWeighted(dests, unit(3, 'route', String(i))) === 'v2') v2++;
  t.true(Math.abs(v2 - 1000) < 100, `${v2}`);
});

const route = (matches: Route['matches'], version: string): Route => ({ matches, destinations: [{ version, weight: 100 }], where: 'f:1' });

test('the first matching route wins; header and path matches combine', (t) => {
  const routes = [
    route([{ headers: [{ name: 'end-user', kind: 'exact', value: 'jason' }], path: { kind: 'prefix', value: '/reviews' } }], 'v2'),
    route([{ headers: [{ name: 'x-canary', kind: 'regex', value: 'tr?ue' }], path: undefined }], 'v3'),
    route([], 'v1'),
  ];
  t.is(selectRoute(routes, { 'end-user': 'jason' }, '/reviews/1')?.route.destinations[0]!.version, 'v2');
  t.is(selectRoute(routes, { 'end-user': 'jason' }, '/ratings')?.route.destinations[0]!.version, 'v1', 'path must match too');
  t.is(selectRoute(routes, { 'x-canary': 'true' }, '/')?.index, 1);
  t.is(selectRoute(routes, { 'x-canary': 'untrue' }, '/')?.index, 2, 'a regex matches the whole value');
  t.is(selectRoute(routes, {}, '/')?.index, 2);
  t.is(selectRoute(routes.slice(0, 2), {}, '/'), undefined, 'no catch-all: no route (404 NR)');
  t.true(matches({ headers: [], path: { kind: 'exact', value: '/a' } }, {}, '/a?x=1'), 'the query is not part of the path');
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
