import test from 'ava';
import { join } from 'node:path';
import { jsonOf, runCli, scenarioFile } from '../helpers/cli.js';
import type { Summary } from '../../src/mesh/summary.js';
import { PACKAGE_ROOT } from '../../src/version.js';

// Counts as Istio's metrics count: at the sidecars, once per request, when it is answered.

async function run(text: string, name: string): Promise<{ code: number | null; summary: Summary; stderr: string }> {
  const file = await scenarioFile(text, name);
  const result = await runCli(['run', file, '--json', '--seed', '5'], { timeoutMs: 120_000 });
  return { code: result.code, summary: jsonOf<Summary>(result), stderr: result.stderr };
}

test('requests still in flight when the run ends are unanswered, not errors at the caller nor missing at the callee', async (t) => {
  const { code, summary, stderr } = await run(`
name: slow-callee
duration: 2s
services:
  edge: {calls: [slow]}
  slow: {latency: 15s}
traffic:
  - {to: edge, rps: 5, arrival: uniform}
`, 'slow.yaml');
  t.is(code, 0, 'nothing failed');
  t.true(summary.traffic.sent >= 5);
  t.is(summary.traffic.unanswered, summary.traffic.sent);
  t.is(summary.traffic.failed, 0);
  for (const name of ['edge', 'slow']) {
    t.is(summary.services[name]!.requests, 0, `${name}: an unanswered request is not counted`);
    t.is(summary.services[name]!.errors, 0, `${name}: nor is it an error`);
  }
  t.deepEqual(summary.edges, []);
  t.regex(stderr, /unanswered/);
});

test("an app's own OpenTelemetry spans are traced once and counted never: the sidecars' are the counts", async (t) => {
  const app = join(PACKAGE_ROOT, 'test', 'fixtures', 'sdk-app.mjs');
  const { code, summary } = await run(`
name: own-sdk
duration: 3s
services:
  front: {calls: [mine]}
  mine:
    command: node ${JSON.stringify(app)}
traffic:
  - {to: front, concurrency: 2, requests: 40}
checks:
  - "requests(mine) >= 40"
  - "error_rate(mine) < 0.01"
`, 'sdk.yaml');
  t.is(code, 0);
  t.is(summary.traffic.answered, 40);
  t.is(summary.services.mine!.requests, 40, 'not 80: the app\'s own server spans are not counted again');
  t.is(summary.services.mine!.errors, 0, 'its `http.status_code: 500` claims are not the sidecar\'s answers');
  t.is(summary.services.front!.requests, 40);
});
