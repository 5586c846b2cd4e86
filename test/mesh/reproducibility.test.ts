import test from 'ava';
import { runScenario } from '../helpers/mesh.js';

// Every kind of seeded decision, and no timeout: weights, an unrouted split across
// versions, errorRate with retries, an abort fault, a probabilistic call, Poisson arrivals.
const scenario = `
name: seeded
services:
  web:
    calls:
      - reviews
      - {service: ads, probability: 30, optional: true}
  reviews:
    calls: [ratings]
    versions: {v1: {}, v2: {}, v3: {}}
  ratings:
    errorRate: 0.2
    versions: {v1: {}, v2: {}}
  ads: {}
mesh:
  reviews:
    routes:
      - route: [{version: v1, weight: 60}, {version: v2, weight: 30}, {version: v3, weight: 10}]
  ratings:
    retries: {attempts: 1, retryOn: "5xx"}
  ads:
    fault: {abort: {percentage: 25, httpStatus: 503}}
traffic:
  - {to: web, rps: 120}
`;

function counts(summary: Awaited<ReturnType<typeof runScenario>>['summary']) {
  return Object.fromEntries(Object.entries(summary.services).map(([name, s]) => [name, { requests: s.requests, errors: s.errors, versions: s.versions }]));
}

test.serial('the same seed gives identical per-version and error counts, run after run', async (t) => {
  const first = await runScenario(scenario, 3, 7);
  const second = await runScenario(scenario, 3, 7);
  t.true(first.summary.services.web!.requests > 250);
  t.deepEqual(counts(second.summary), counts(first.summary));
  const other = await runScenario(scenario, 3, 8);
  t.notDeepEqual(counts(other.summary), counts(first.summary), 'another seed, other decisions');
});
