import test from 'ava';
import { randomUUID } from 'node:crypto';
import { jsonOf, processesTagged, runCli, scenarioFile, startCli } from '../helpers/cli.js';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Summary } from '../../src/mesh/summary.js';

test.serial('run --json prints the contract summary and exits 0 when the checks hold', async (t) => {
  const tag = randomUUID();
  const result = await runCli(['run', 'scenarios/bookinfo.yaml', '--duration', '3s', '--json'], { env: { MESH_SIM_TEST_TAG: tag }, timeoutMs: 60_000 });
  t.is(result.code, 0, result.stderr);
  const summary = jsonOf<Summary>(result);
  t.is(summary.scenario, 'bookinfo');
  t.is(summary.seed, 42);
  t.is(summary.runtime, 'process');
  t.true(summary.durationMs >= 2900 && summary.durationMs < 5000, `${summary.durationMs}`);
  for (const service of ['productpage', 'details', 'reviews', 'ratings']) {
    t.deepEqual(Object.keys(summary.services[service]!).sort(), ['errors', 'p50Ms', 'p90Ms', 'p99Ms', 'requests', 'rps', 'versions']);
  }
  t.deepEqual(Object.keys(summary.services.reviews!.versions).sort(), ['v1', 'v2', 'v3']);
  t.true(summary.edges.some((e: { source: string; destination: string }) => e.source === 'productpage' && e.destination === 'reviews'));
  t.deepEqual(Object.keys(summary.traces).sort(), ['complete', 'count', 'maxDepth']);
  t.is(summary.traces.maxDepth, 3);
  t.deepEqual(summary.checks.map((c: { expr: string; ok: boolean }) => [c.expr, c.ok]), [['error_rate(productpage) < 0.05', true], ['p50(productpage) < 100ms', true]]);
  t.regex(result.stderr, /seed 42/);
  t.regex(result.stderr, /ready: 6 instances and the gateway/);
  t.regex(result.stderr, /\[0:00\] Bookinfo is up/, 'narration goes to stderr');
  t.deepEqual(await processesTagged(tag), [], 'nothing it started is left running');
});

test.serial('a failing check exits 1, with the measured value in the summary', async (t) => {
  const file = await scenarioFile('name: fail\nseed: 1\nservices:\n  a: {}\ntraffic: [{to: a, rps: 10, arrival: uniform}]\nchecks: ["rps(a) > 1000"]\n');
  const result = await runCli(['run', file, '--duration', '2s', '--json'], { timeoutMs: 60_000 });
  t.is(result.code, 1, result.stderr);
  const [check] = jsonOf<Summary>(result).checks;
  t.like(check, { expr: 'rps(a) > 1000', ok: false });
  // Uniform arrivals at 10 rps fall at 100, 200, ... 1900 ms: 19 requests in 2 s.
  t.true(Math.abs(check!.value! - 9.5) <= 0.5, `${check!.value}`);
});

test.serial('Ctrl-C stops the mesh, prints the summary of what ran, exits 130 and leaves nothing running', async (t) => {
  const tag = randomUUID();
  const { child, result } = startCli(['run', 'scenarios/bookinfo.yaml', '--duration', '1m', '--json'], { MESH_SIM_TEST_TAG: tag });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 200 && !/traffic: visitors/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 1500));
  t.true((await processesTagged(tag)).length >= 3, 'the mesh was running: mesh-sim, its reaper and its nodes');
  const signalled = performance.now();
  child.kill('SIGINT');
  const done = await result;
  t.is(done.code, 130, done.stderr);
  t.true(performance.now() - signalled < 15_000, `exited ${Math.round(performance.now() - signalled)} ms after Ctrl-C`);
  const summary = jsonOf<Summary>(done);
  t.true(summary.interrupted);
  t.true(summary.services.productpage!.requests > 0);
  t.deepEqual(await processesTagged(tag), []);
});

test.serial('an app that will not start fails the run with exit 2, its last words, and no half-started mesh', async (t) => {
  const tag = randomUUID();
  const file = await scenarioFile('name: broken\nservices:\n  web: {calls: [api]}\n  api:\n    command: "echo cannot bind >&2; exit 3"\ntraffic: [{to: web, rps: 5}]\n');
  const result = await runCli(['run', file, '--duration', '5s'], { env: { MESH_SIM_TEST_TAG: tag }, timeoutMs: 60_000 });
  t.is(result.code, 2);
  t.regex(result.stderr, /api-v1-0 exited with code 3/);
  t.regex(result.stderr, /app: cannot bind/);
  t.regex(result.stderr, /the mesh did not start; everything it started has been stopped/);
  t.notRegex(result.stderr, /\n\s+at /, 'no stack trace');
  t.is(result.stdout, '');
  t.deepEqual(await processesTagged(tag), []);
});

test.serial('--nodes 1 packs every pod on one node process, and the run is the same run', async (t) => {
  const tag = randomUUID();
  const { child, result } = startCli(['run', 'scenarios/bookinfo.yaml', '--duration', '3s', '--seed', '9', '--nodes', '1', '--json'], { MESH_SIM_TEST_TAG: tag });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 200 && !/traffic: visitors/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
  // mesh-sim, its reaper and one node: seven pods, three processes.
  t.is((await processesTagged(tag)).length, 3);
  const done = await result;
  t.is(done.code, 0, done.stderr);
  const summary = jsonOf<Summary>(done);
  t.true(summary.services.productpage!.requests > 0);
  t.is(summary.services.productpage!.requests, summary.services.details!.requests);
  const bad = await runCli(['run', 'scenarios/bookinfo.yaml', '--nodes', '0']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--nodes takes a whole number from 1 to 64, not `0`/);
});

test('bad options and bad scenarios exit 2 before anything starts', async (t) => {
  const duration = await runCli(['run', 'scenarios/bookinfo.yaml', '--duration', 'soon']);
  t.is(duration.code, 2);
  t.regex(duration.stderr, /--duration takes a duration such as 30s or 2m, not `soon`/);
  const seed = await runCli(['run', 'scenarios/bookinfo.yaml', '--seed', '-4']);
  t.is(seed.code, 2);
  const runtime = await runCli(['run', 'scenarios/bookinfo.yaml', '--runtime', 'kubernetes']);
  t.is(runtime.code, 2);
  t.regex(runtime.stderr, /--runtime is one of/);
  const file = await scenarioFile('name: bad\nservices:\n  a: {calls: [b]}\n');
  const bad = await runCli(['run', file]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /scenario\.yaml:3:15: services\.a\.calls\[0\]: no service `b`/);
  const nowhere = await runCli(['run', 'scenarios/bookinfo.yaml', '--access-log', join(tmpdir(), 'no-such-dir-mesh-sim', 'a.log')]);
  t.is(nowhere.code, 2);
  t.regex(nowhere.stderr, /--access-log: cannot write .*a\.log: ENOENT/);
  t.notRegex(nowhere.stderr, /at |node:events/, 'a message, not a stack trace');
  const encoding = await runCli(['run', 'scenarios/bookinfo.yaml', '--access-log', join(tmpdir(), 'a.log'), '--access-log-encoding', 'yaml']);
  t.is(encoding.code, 2);
  t.regex(encoding.stderr, /--access-log-encoding is json or text/);
});

test.serial("--access-log-encoding text writes Istio's TEXT lines, and the file is whole when run exits", async (t) => {
  const file = await scenarioFile('name: text\nseed: 1\nservices:\n  web: {calls: [api]}\n  api: {}\ntraffic: [{to: web, rps: 20}]\n');
  const log = join(await mkdtemp(join(tmpdir(), 'mesh-sim-log-')), 'access.log');
  const result = await runCli(['run', file, '--duration', '2s', '--json', '--access-log', log, '--access-log-encoding', 'text'], { timeoutMs: 60_000 });
  t.is(result.code, 0, result.stderr);
  const lines = (await readFile(log, 'utf8')).split('\n').filter((l) => l !== '');
  const summary = jsonOf<Summary>(result);
  // Each request to web is four lines: the gateway's, web's inbound, web's call to api, api's inbound.
  t.true(summary.services.web!.requests > 10 && lines.length >= 3 * summary.services.web!.requests, `${lines.length} lines for ${summary.services.web!.requests} requests`);
  for (const line of lines) t.regex(line, /^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] "GET \S+ HTTP\/1\.1" \d{3} \S+ \S+ - "-" \d+ \d+ \d+ \S+ "-" "[^"]*" "[0-9a-f-]{36}" "(web|api):\d+" "[^"]+" (inbound|outbound)\|\d+\|/);
  t.true(lines.some((l) => / outbound\|\d+\|\|api\.default\.svc\.cluster\.local /.test(l)), "web's sidecar logs its call to api");
});
