// The replay UI (ink-testing-library): a recording of a real run, played with no mesh:
// seeking to a timeline event shows the panes as they stood then, going back rebuilds
// them, and the header says where the replay is.
import test from 'ava';
import React from 'react';
import { render } from 'ink-testing-library';
import { rm } from 'node:fs/promises';
import { App } from '../../src/tui/app.js';
import { loadRecording } from '../../src/record/replay.js';
import { Player } from '../../src/record/player.js';
import { sleep } from '../helpers/mesh.js';
import { recordRun } from '../helpers/record.js';

const SCENARIO = `name: replayed
services:
  web: {calls: [api]}
  api: {latency: 2ms}
traffic:
  - {to: web, rps: 40}
timeline:
  - {at: 1s, say: first narration}
  - {at: 3s, say: api breaks, set: {services: {api: {errorRate: 1}}}}
`;

async function until(frame: () => string, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 3000;
  while (!pattern.test(frame()) && Date.now() < deadline) await sleep(40);
  return frame();
}

test.serial('seeking a replay to an event shows the panes at that moment, and back again', async (t) => {
  const { dir, file } = await recordRun(SCENARIO, 5, 5500);
  const recording = await loadRecording(file);
  let real = 0;
  const player = new Player(recording, () => real);
  player.togglePause();
  t.true(player.paused);
  const ui = render(<App source={player.source()} playback={player} onQuit={() => {}} onNextEvent={() => player.toEvent(1)} size={{ columns: 110, rows: 32 }} fps={50} />);
  t.teardown(() => ui.unmount());
  const frame = () => ui.lastFrame() ?? '';
  t.regex(await until(frame, /REPLAY 0:00\//), /REPLAY 0:00\/0:0\d ×1 ⏸ paused/);

  // n: to the first event, then the second; the narration is the event's.
  ui.stdin.write('n');
  t.regex(await until(frame, /first narration/), /first narration/);
  ui.stdin.write('n');
  const broken = await until(frame, /api breaks/);
  t.regex(broken, /api breaks/);
  t.notRegex(broken, /first narration/);
  // Two seconds on, api's errors are there to see on the Services pane.
  ui.stdin.write(']');
  ui.stdin.write('1');
  t.regex(await until(frame, /SERVICE +VERSIONS/), /SERVICE +VERSIONS/);
  t.true(player.mesh.stats.service('api', undefined, { fromMs: player.now - 2000, toMs: player.now }).errorRate > 0.5, 'the Services pane reads the failures');

  // Every pane works on the recording as it did live.
  ui.stdin.write('3');
  t.regex(await until(frame, /of \d+ lines/), /of \d+ lines/, 'Logs');
  ui.stdin.write('4');
  t.regex(await until(frame, /GET web\/ +\d/), /GET web\/ +\d/, 'Traces');
  ui.stdin.write('6');
  t.regex(await until(frame, /Istio resources in force \(config v\d+\)/), /Istio resources in force/, 'Config');
  ui.stdin.write('2');
  t.regex(await until(frame, /^istio-ingressgateway$/m), /^istio-ingressgateway$/m, 'Graph');

  // N: back to the first event; the panes are rebuilt as they stood then.
  ui.stdin.write('N');
  ui.stdin.write('N');
  t.regex(await until(frame, /first narration/), /first narration/);
  const events = recording.entries.filter((e) => e.k === 'event').map((e) => e.t);
  t.true(player.now >= events[0]! && player.now < events[0]! + 2000, 'at the first event, as it fired and was narrated');
  t.is(player.mesh.stats.service('api', undefined, { fromMs: player.now - 2000, toMs: player.now }).errors, 0, 'no failures yet at that moment');

  // Space plays, + speeds up; the clock moves on its own.
  ui.stdin.write('+');
  ui.stdin.write(' ');
  const before = player.now;
  real += 1000;
  t.regex(await until(frame, /×2 ▶/), /×2 ▶/);
  t.is(player.now, before + 2000);
  await rm(dir, { recursive: true, force: true });
});
