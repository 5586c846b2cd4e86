import test from 'ava';
import { load, yaml } from '../helpers/scenario.js';
import { DEFAULT_RETRY_ON, UNLIMITED, clusterPolicy, virtualHostFor } from '../../src/policy/config.js';
import type { Scenario } from '../../src/scenario/model.js';

const routesOf = (scenario: Scenario, host: string) => virtualHostFor(scenario.config, host).routes;
const policyOf = (scenario: Scenario, host: string) => clusterPolicy(scenario.config, host, undefined);

const everyField = yaml`
  name: every-field
  description: Every field the contract names.
  seed: 42
  duration: 2m
  services:
    productpage:
      port: 9080
      replicas: 2
      latency: 5ms
      errorRate: 0.01
      errorStatus: 503
      responseSize: 1KiB
      calls:
        - details
        - service: reviews
          path: /reviews/1
          method: post
          optional: true
          probability: 50
          timeout: 3s
          retries: 1
          fallback: 200
        - parallel: [details, {service: ratings, path: /r}]
    details:
      latency: {mean: 5ms, stddev: 2ms}
      command: "node my-details.js"
    reviews:
      latency: {p50: 5ms, p99: 40ms}
      image: my/reviews:dev
      versions:
        v1: {}
        v2: {calls: [ratings], latency: 12ms, replicas: 3}
        v3:
    ratings: {}
  mesh:
    reviews:
      routes:
        - match: {headers: {End-User: {exact: jason}}, path: {prefix: /reviews}}
          route: [{version: v2, weight: 100}]
        - match: [{headers: {x-canary: {regex: "^t.*"}}}, {path: {exact: /reviews/9}}]
          route: [{version: v1, weight: 50}, {version: v3, weight: 50}]
        - route: [{version: v1}]
      timeout: 1s
      retries: {attempts: 3, perTryTimeout: 300ms, retryOn: "5xx,reset,connect-failure,503"}
      fault:
        delay: {percentage: 10, fixedDelay: 2s}
        abort: {percentage: {value: 5}, httpStatus: 503}
      mirror: {version: v3, percentage: 10}
      connectionPool: {maxConnections: 100, http1MaxPendingRequests: 10}
      outlierDetection: {consecutive5xxErrors: 5, interval: 5s, baseEjectionTime: 30s, maxEjectionPercent: 100}
    ratings:
      outlierDetection: {}
  traffic:
    - name: users
      to: productpage
      path: /productpage
      rps: 50
      arrival: uniform
      headers: {End-User: jason}
    - to: productpage
      rps: 1.5
  timeline:
    - at: 20s
      say: "ratings slows down"
      set:
        mesh: {ratings: {fault: {delay: {percentage: 100, fixedDelay: 1s}}}}
    - at: 40s
      set: {traffic: [{to: productpage, path: /productpage, rps: 200}]}
    - at: 60s
      kill: {service: ratings, version: v1}
    - at: 70s
      restart: {service: ratings, version: v1, replica: 0}
    - at: 90s
      check: "p99(productpage) < 2s"
  checks:
    - "error_rate(productpage) < 0.05"
    - "rps(reviews, v2) > 10"
`;

test('the top-level fields are parsed: name, description, seed and duration in ms', (t) => {
  const { scenario } = load(everyField);
  t.is(scenario.name, 'every-field');
  t.is(scenario.description, 'Every field the contract names.');
  t.is(scenario.seed, 42);
  t.is(scenario.durationMs, 120_000);
  t.is(scenario.file, 'test.yaml');
});

test('service fields are parsed to numbers: latency forms, sizes, rates and statuses', (t) => {
  const { scenario } = load(everyField);
  const [productpage, details, reviews] = scenario.services;
  t.is(productpage!.port, 9080);
  t.like(productpage!.versions[0], {
    name: 'v1', replicas: 2, errorRate: 0.01, errorStatus: 503, responseSize: 1024,
    latency: { kind: 'constant', ms: 5 },
  });
  t.deepEqual(details!.versions[0]!.latency, { kind: 'normal', meanMs: 5, stddevMs: 2 });
  t.is(details!.versions[0]!.command, 'node my-details.js');
  t.deepEqual(reviews!.versions[0]!.latency, { kind: 'percentiles', p50Ms: 5, p99Ms: 40 });
  t.is(reviews!.versions[0]!.image, 'my/reviews:dev');
});

test('calls are parsed in every form: bare name, object, and parallel group', (t) => {
  const { scenario } = load(everyField);
  const calls = scenario.services[0]!.versions[0]!.calls;
  const own = { timeoutMs: undefined, retries: 0, fallback: undefined };
  t.deepEqual(calls[0], { kind: 'call', call: { service: 'details', path: '/', method: 'GET', optional: false, probability: 100, ...own } });
  t.deepEqual(calls[1], { kind: 'call', call: { service: 'reviews', path: '/reviews/1', method: 'POST', optional: true, probability: 50, timeoutMs: 3000, retries: 1, fallback: 200 } });
  t.deepEqual(calls[2], {
    kind: 'parallel',
    calls: [
      { service: 'details', path: '/', method: 'GET', optional: false, probability: 100, ...own },
      { service: 'ratings', path: '/r', method: 'GET', optional: false, probability: 100, ...own },
    ],
  });
});

test('versions inherit their service fields and override what they set', (t) => {
  const { scenario } = load(everyField);
  const reviews = scenario.services[2]!;
  t.deepEqual(reviews.versions.map((v) => v.name), ['v1', 'v2', 'v3']);
  const [v1, v2, v3] = reviews.versions;
  t.deepEqual(v1!.latency, { kind: 'percentiles', p50Ms: 5, p99Ms: 40 });
  t.deepEqual(v2!.latency, { kind: 'constant', ms: 12 });
  t.is(v2!.replicas, 3);
  t.is(v1!.replicas, 1);
  t.is(v2!.calls.length, 1);
  t.is(v3!.calls.length, 0, 'an empty version (`v3:`) inherits everything');
  t.is(v3!.image, 'my/reviews:dev');
});

test('defaults apply where a service field is absent', (t) => {
  const { scenario } = load(everyField);
  const ratings = scenario.services[3]!;
  t.deepEqual(ratings.versions.map((v) => v.name), ['v1']);
  t.like(ratings.versions[0], { replicas: 1, errorRate: 0, errorStatus: 500, responseSize: 128, latency: { kind: 'constant', ms: 0 } });
  t.is(ratings.port, undefined);
});

test('the shorthand compiles to a VirtualService: header and uri matches, match lists, and weights', (t) => {
  const { scenario } = load(everyField);
  const [jason, canary, rest] = routesOf(scenario, 'reviews');
  t.deepEqual(jason!.matches, [{ headers: [{ name: 'end-user', match: { kind: 'exact', value: 'jason' } }], withoutHeaders: [], queryParams: [], uri: { kind: 'prefix', value: '/reviews' } }]);
  t.deepEqual(jason!.destinations, [{ host: 'reviews', subset: 'v2', weight: 100 }]);
  t.is(canary!.matches.length, 2);
  t.deepEqual(canary!.matches[0]!.headers, [{ name: 'x-canary', match: { kind: 'regex', value: '^t.*' } }]);
  t.deepEqual(canary!.matches[1]!.uri, { kind: 'exact', value: '/reviews/9' });
  t.deepEqual(canary!.destinations, [{ host: 'reviews', subset: 'v1', weight: 50 }, { host: 'reviews', subset: 'v3', weight: 50 }]);
  t.deepEqual(rest!.matches, []);
  t.deepEqual(rest!.destinations, [{ host: 'reviews', subset: 'v1', weight: 100 }], 'a lone destination weighs 100');
  t.regex(jason!.ref.where!, /^test\.yaml:\d+$/);
  t.like(jason!.ref.origin, { kind: 'VirtualService', name: 'reviews', shorthand: true });
  t.deepEqual(scenario.istio.map((r) => `${r.kind}/${r.name}`), ['VirtualService/reviews', 'DestinationRule/reviews', 'DestinationRule/ratings']);
});

test('timeout, retries, faults and mirror go on every route; connection pool and outlier detection on the DestinationRule', (t) => {
  const { scenario } = load(everyField);
  for (const route of routesOf(scenario, 'reviews')) {
    t.is(route.timeoutMs, 1000);
    t.like(route.retries, { attempts: 3, perTryTimeoutMs: 300, retryOn: ['5xx', 'reset', 'connect-failure', 'retriable-status-codes'], statusCodes: [503] });
    t.like(route.fault.delay, { percentage: 10, fixedDelayMs: 2000 });
    t.like(route.fault.abort, { percentage: 5, httpStatus: 503 }, 'Istio\'s {value: N} percentage form');
    t.like(route.mirrors[0], { host: 'reviews', subset: 'v3', percentage: 10 });
  }
  const reviews = policyOf(scenario, 'reviews');
  t.like(reviews.connectionPool, { maxConnections: 100, http1MaxPendingRequests: 10 });
  t.like(reviews.outlierDetection, { consecutive5xxErrors: 5, intervalMs: 5000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 100 });
  t.deepEqual(Object.keys(scenario.config.destinations.reviews!.subsets), ['v1', 'v2', 'v3'], 'a subset per version, labelled version: NAME');
  t.deepEqual(clusterPolicy(scenario.config, 'reviews', 'v2'), reviews, 'a subset without its own policy has its host\'s');
});

test("Istio's defaults apply where a policy field is absent", (t) => {
  const { scenario } = load(everyField);
  const ratings = policyOf(scenario, 'ratings');
  t.like(ratings.outlierDetection, { consecutive5xxErrors: 5, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 10 });
  const [ratingsRoute] = routesOf(scenario, 'ratings');
  t.deepEqual(ratingsRoute!.retries.retryOn, [...DEFAULT_RETRY_ON]);
  t.is(ratingsRoute!.retries.attempts, 2);
  t.is(ratingsRoute!.timeoutMs, undefined);
  t.is(ratingsRoute!.ref.origin, undefined, 'no VirtualService: the default route');
  const details = policyOf(scenario, 'details');
  t.is(details.outlierDetection, undefined, 'no outlierDetection, no ejection');
  t.is(details.connectionPool.maxConnections, UNLIMITED);
  t.deepEqual(routesOf(scenario, 'details').map((r) => r.destinations), [[{ host: 'details', subset: undefined, weight: 100 }]]);
});

test('traffic flows are parsed with their defaults and identities', (t) => {
  const { scenario } = load(everyField);
  const [users, unnamed] = scenario.traffic;
  t.like(users, { id: 'users', to: 'productpage', path: '/productpage', method: 'GET', rps: 50, arrival: 'uniform', headers: { 'end-user': 'jason' } });
  t.like(unnamed, { id: 'flow-2', path: '/', rps: 1.5, arrival: 'poisson', headers: {} }, 'an unnamed flow is flow-N, N its place from 1');
});

test('timeline events and checks are parsed, checks into an AST', (t) => {
  const { scenario } = load(everyField);
  const [slow, shift, kill, restart, check] = scenario.timeline;
  t.like(slow, { atMs: 20_000, say: 'ratings slows down' });
  t.deepEqual(slow!.set, { mesh: { ratings: { fault: { delay: { percentage: 100, fixedDelay: '1s' } } } } });
  t.like(shift, { atMs: 40_000 });
  t.deepEqual(kill!.kill, { service: 'ratings', version: 'v1', replica: undefined });
  t.deepEqual(restart!.restart, { service: 'ratings', version: 'v1', replica: 0 });
  t.like(check!.check!.expr, { func: 'p99', service: 'productpage', op: '<', value: 2000 });
  t.like(scenario.checks[1]!.expr, { func: 'rps', service: 'reviews', version: 'v2', op: '>', value: 10 });
});

test('the scenario after each `set` is built in advance, with its rules located in the patch', (t) => {
  const { scenario, states } = load(everyField);
  t.deepEqual([...states.keys()], [0, 1]);
  const afterSlow = states.get(0)!;
  const ratingsDelay = () => routesOf(afterSlow, 'ratings')[0]!.fault.delay;
  t.like(ratingsDelay(), { percentage: 100, fixedDelayMs: 1000 });
  t.is(ratingsDelay()!.where, `test.yaml:${everyField.split('\n').findIndex((l) => l.includes('fault: {delay: {percentage: 100')) + 1}`);
  t.like(routesOf(afterSlow, 'reviews')[0]!.fault.delay, { percentage: 10 }, 'what the patch does not touch stays');
  const afterShift = states.get(1)!;
  t.deepEqual(afterShift.traffic.map((f) => f.rps), [200], 'a list in a patch replaces the list');
  t.is(routesOf(afterShift, 'ratings')[0]!.fault.delay?.fixedDelayMs, 1000, 'patches apply cumulatively');
  t.is(scenario.traffic.length, 2, 'the base scenario is unchanged');
});
