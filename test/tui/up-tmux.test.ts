// `mesh-sim up` in a real terminal: tmux runs it, send-keys types, capture-pane reads.
import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, processesTagged } from '../helpers/cli.js';
import { PACKAGE_ROOT } from '../../src/version.js';

/**
 * One tmux server per session: a server still exiting from the last test's kill-server
 * makes the next new-session on its socket fail with "server exited unexpectedly".
 */
const socket = (name: string) => `mesh-sim-test-${process.pid}-${name}`;

function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const tmux = (name: string, ...args: string[]) => execFileSync('tmux', ['-L', socket(name), ...args], { encoding: 'utf8' });
const screen = (name: string, escapes = false) => tmux(name, 'capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', name);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The test's own tmux server goes, whatever state the test left it in, and its socket file with it. */
function stopTmux(name: string): void {
  let path = '';
  try {
    path = tmux(name, 'display-message', '-p', '#{socket_path}').trim();
    tmux(name, 'kill-server');
  } catch {
    // Already gone.
  }
  if (path) rmSync(path, { force: true });
}

async function waitForScreen(t: ExecutionContext, name: string, pattern: RegExp, what: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = screen(name);
    if (pattern.test(last)) return last;
    await sleep(200);
  }
  t.fail(`${what}: the screen never showed ${pattern}\n${last}`);
  return last;
}

async function keys(name: string, ...sequence: string[]): Promise<void> {
  for (const key of sequence) {
    tmux(name, 'send-keys', '-t', name, key);
    await sleep(150);
  }
}

function startUp(name: string, tag: string, size: [number, number], env = ''): void {
  const command = `cd ${PACKAGE_ROOT} && env MESH_SIM_TEST_TAG=${tag} ${env} ${process.execPath} ${BIN} up scenarios/bookinfo.yaml; echo EXIT=$?; sleep 60`;
  tmux(name, 'new-session', '-d', '-s', name, '-x', String(size[0]), '-y', String(size[1]), command);
}

const requireTmux = process.env.MESH_SIM_REQUIRE_ALL === '1' || process.env.CI === 'true';
const run = hasTmux() ? test.serial : requireTmux ? test.serial : test.skip;

run('mesh-sim up shows Bookinfo live: services fill, Tab reaches traces, Enter opens a waterfall, ? helps, q quits cleanly', async (t) => {
  if (!hasTmux()) return t.fail('tmux is not installed: .ci/run installs it (apt-get install tmux)');
  const tag = randomUUID();
  const name = 'up';
  t.teardown(() => stopTmux(name));
  startUp(name, tag, [100, 30]);
  let table = '';
  for (const service of ['productpage', 'details', 'reviews', 'ratings']) {
    // Each row fills as its first requests end: callees before their callers.
    table = await waitForScreen(t, name, new RegExp(`^${service}\\s+v1.*●+\\s+[1-9][\\d.]*\\s+\\d`, 'm'), `${service} with a non-zero rate`);
  }
  t.regex(table, /^reviews\s+v1 v2 v3\s+●●●/m);
  await keys(name, 'Tab', 'Tab', 'Tab');
  await waitForScreen(t, name, /TIME +TRACE +DURATION/, 'the traces pane after three Tabs');
  await waitForScreen(t, name, /GET productpage\/productpage +\d/, 'a trace in the list');
  await keys(name, 'Enter');
  const fall = await waitForScreen(t, name, /^istio-ingressgateway → productpage v1 +█/m, 'a waterfall');
  t.regex(fall, /^ {2}productpage v1 GET \/productpage/m, 'productpage at the root of the trace');
  t.regex(fall, /^ {4}productpage → details v1/m);
  await keys(name, 'Escape', '6');
  await waitForScreen(t, name, /Istio resources in force \(config v\d+\)[\s\S]*productpage: no VirtualService, Istio's default route.* [1-9][\d.]* rps/, 'the Config pane, with the rate each host\'s route matched');
  await keys(name, '?');
  await waitForScreen(t, name, /Keys[\s\S]*q, Ctrl-C +quit, stopping everything the run started/, 'the help screen');
  await keys(name, '?', 'q');
  const end = await waitForScreen(t, name, /EXIT=\d+/, 'the exit status');
  t.regex(end, /EXIT=0/);
  t.regex(end, /nothing it started is left running/);
  t.deepEqual(await processesTagged(tag), [], 'no process of the run is left');
});

run('mesh-sim up fits 80x24 and draws no colour with NO_COLOR', async (t) => {
  if (!hasTmux()) return t.fail('tmux is not installed');
  const tag = randomUUID();
  const name = 'small';
  t.teardown(() => stopTmux(name));
  startUp(name, tag, [80, 24], 'NO_COLOR=1');
  const table = await waitForScreen(t, name, /^reviews\s+v1 v2 v3/m, 'the services table');
  const lines = table.replace(/\n$/, '').split('\n');
  t.true(lines.length <= 24, `${lines.length} lines`);
  t.true(lines.every((l) => [...l].length <= 80), 'no line wider than the terminal');
  t.regex(table, /1 Services {2}2 Graph {2}3 Logs {2}4 Traces {2}5 Timeline {2}6 Config/);
  t.notRegex(screen(name, true), /\u001b\[[0-9;]*m/, 'no colour or style escapes on screen');
  await keys(name, 'q');
  t.regex(await waitForScreen(t, name, /EXIT=\d+/, 'the exit status'), /EXIT=0/);
  t.deepEqual(await processesTagged(tag), []);
});

run('up --watch --record in a real terminal: a save is applied and narrated; replay plays the recording back', async (t) => {
  if (!hasTmux()) return t.fail('tmux is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'mesh-sim-tmux-watch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'live.yaml');
  const recording = join(dir, 'live.msrec');
  const scenario = (errorRate: number) => `name: live
services:
  web: {calls: [api]}
  api: {errorRate: ${errorRate}}
traffic:
  - {to: web, rps: 20}
timeline:
  - {at: 2s, say: watch the api row}
`;
  writeFileSync(file, scenario(0));
  const tag = randomUUID();
  const name = 'watch';
  t.teardown(() => stopTmux(name));
  const command = `cd ${PACKAGE_ROOT} && env MESH_SIM_TEST_TAG=${tag} ${process.execPath} ${BIN} up ${file} --watch --record ${recording} --no-prometheus; echo EXIT=$?; sleep 60`;
  tmux(name, 'new-session', '-d', '-s', name, '-x', '100', '-y', '30', command);
  await waitForScreen(t, name, /watch the api row/, 'the timeline narration');
  writeFileSync(file, scenario(0.5));
  await waitForScreen(t, name, /applied: api v1 behaviour changed/, 'the save narrated as applied');
  writeFileSync(file, scenario(0.5).replace('rps: 20', 'rps: lots'));
  const invalid = await waitForScreen(t, name, /live\.yaml no longer validates; the mesh runs as before/, 'the invalid save shown');
  t.regex(invalid, /live\.yaml:\d+:\d+: traffic\[0\]\.rps/);
  await keys(name, 'q');
  const end = await waitForScreen(t, name, /EXIT=\d+/, 'the exit status');
  t.regex(end, /EXIT=0/);
  t.regex(end, /recorded to .*live\.msrec/);
  t.deepEqual(await processesTagged(tag), []);

  const replay = 'replay';
  t.teardown(() => stopTmux(replay));
  tmux(replay, 'new-session', '-d', '-s', replay, '-x', '100', '-y', '30', `cd ${PACKAGE_ROOT} && ${process.execPath} ${BIN} replay ${recording} --speed 4; echo EXIT=$?; sleep 60`);
  await waitForScreen(t, replay, /REPLAY \d:\d\d\/\d:\d\d ×4/, 'the replay bar');
  await keys(replay, 'p', 'n');
  await waitForScreen(t, replay, /watch the api row/, 'the narration after seeking to the event');
  await keys(replay, 'q');
  t.regex(await waitForScreen(t, replay, /EXIT=\d+/, 'the replay\'s exit status'), /EXIT=0/);
});
