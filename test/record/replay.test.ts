// Record and replay as a user does it: `run --record`, then `replay --json` gives the
// same summary and the same per-window check values, rebuilt from the recording; a run
// killed mid-way replays up to its last second; nothing secret is in the file.
import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { rm } from 'node:fs/promises';
import { BIN, jsonOf, runCli, scenarioFile } from '../helpers/cli.js';
import { sleep } from '../helpers/mesh.js';
import { recordRun } from '../helpers/record.js';
import { MAGIC, decodeRecording, encodeFrame, type Entry } from '../../src/record/format.js';
import { loadRecording, replayAll } from '../../src/record/replay.js';
import type { Summary } from '../../src/mesh/summary.js';

const SCENARIO = `name: recorded
seed: 11
duration: 9s
services:
  web:
    calls: [{service: api, timeout: 200ms, fallback: 200}]
  api:
    latency: {p50: 5ms, p99: 30ms}
    errorRate: 0.05
traffic:
  - {name: users, to: web, rps: 60}
timeline:
  - at: 3s
    check: "error_rate(api) < 0.2"
  - at: 3s
    say: api gets slow
    set: {services: {api: {latency: 300ms}}}
  - at: 7s
    check: "degraded_rate(flow:users) > 0.5"
checks:
  - "requests(api) > 100"
`;

test.serial('replay --json rebuilds the summary and every check value of the recorded run', async (t) => {
  const file = await scenarioFile(SCENARIO);
  const recording = join(dirname(file), 'run.msrec');
  const live = await runCli(['run', file, '--json', '--record', recording], { timeoutMs: 90_000 });
  t.is(live.code, 0, live.stderr);
  t.regex(live.stderr, /recorded to .*run\.msrec \(\d+ KiB\); replay it with: mesh-sim replay/);
  const replayed = await runCli(['replay', recording, '--json']);
  t.is(replayed.code, 0, replayed.stderr);
  const a = jsonOf<Summary>(live);
  const b = jsonOf<Summary>(replayed);
  t.true(a.services.api!.requests > 100);
  t.is(a.checks.length, 3);
  t.true(a.checks.some((c) => c.at !== undefined && c.value !== null && c.value > 0), 'a window check measured something');
  t.deepEqual(b, a, 'the same summary, checks and all');

  // Checks are judged again on the rebuilt numbers, not copied: tamper with a verdict and it comes back right.
  const decoded = decodeRecording(recording, await readFile(recording));
  const tampered = decoded.entries.map((e) => (e.k === 'check' ? { ...e, result: { ...e.result, ok: !e.result.ok, value: -1 } } : e)) as Entry[];
  const copy = join(dirname(file), 'tampered.msrec');
  await writeFile(copy, Buffer.concat([Buffer.from(MAGIC), encodeFrame(tampered)]));
  t.deepEqual(replayAll(await loadRecording(copy)).summary().checks, a.checks);

  // Starting a second recording over the first is refused: nothing is overwritten.
  const again = await runCli(['run', file, '--record', recording, '--duration', '1s']);
  t.is(again.code, 2);
  t.regex(again.stderr, /already exists/);
});

test.serial('a run killed mid-way replays up to its last whole second', async (t) => {
  const file = await scenarioFile(SCENARIO.replace('duration: 9s', 'duration: 60s'));
  const recording = join(dirname(file), 'crash.msrec');
  const child = spawn(process.execPath, [BIN, 'run', file, '--record', recording], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  const closed = new Promise((resolve) => child.once('close', resolve));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 30_000;
  while (!/traffic:/.test(stderr) && Date.now() < deadline) await sleep(100);
  await sleep(4000);
  child.kill('SIGKILL');
  await closed;
  t.regex(stderr, /traffic:/, 'the run got going');
  // The orphaned pods are the reaper's to remove; the recording is what this test is about.
  const bytes = await readFile(recording);
  const decoded = decodeRecording(recording, bytes);
  t.false(decoded.entries.some((e) => e.k === 'end'), 'the run never ended');
  const answers = decoded.entries.filter((e) => e.k === 'answer').length;
  t.true(answers > 100, `about 4 seconds of answers survive: ${answers}`);
  const replayed = await runCli(['replay', recording, '--summary']);
  t.is(replayed.code, 130, 'an interrupted run, as run reports one');
  t.regex(replayed.stderr, /has no end \(the run did not finish\)/);
  t.regex(replayed.stdout, /^recorded: .*\(interrupted\)$/m);
  // A torn last frame (a write cut short) is left out, not fatal.
  const torn = join(dirname(file), 'torn.msrec');
  await writeFile(torn, bytes.subarray(0, bytes.length - 7));
  const tornReplay = await runCli(['replay', torn, '--summary']);
  t.regex(tornReplay.stderr, /ends inside a frame/);
  t.regex(tornReplay.stdout, /^recorded: /m);

});

test.serial('the recording holds no secret: not the run\'s, no key, no certificate', async (t) => {
  const { dir, file, session } = await recordRun(SCENARIO.replace('duration: 9s', ''), 3, 2500);
  const secret = session.collectorHeaders.authorization!.replace(/^Bearer /, '');
  t.true(secret.length >= 16);
  const { entries } = decodeRecording(file, await readFile(file));
  t.true(entries.filter((e) => e.k === 'spans').length > 0);
  const text = entries.map((e) => JSON.stringify(e)).join('\n');
  t.false(text.includes(secret), 'the run\'s secret');
  t.false(/PRIVATE KEY|BEGIN CERTIFICATE/.test(text), 'keys or certificates');
  await rm(dir, { recursive: true, force: true });
});

test('a file that is not a recording is refused with a clear message', async (t) => {
  const file = await scenarioFile(SCENARIO);
  const result = await runCli(['replay', file]);
  t.is(result.code, 2);
  t.regex(result.stderr, /is not a mesh-sim recording/);
  t.false(/at .*\.js:\d+/.test(result.stderr), 'no stack trace');
});
