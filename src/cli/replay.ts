// `mesh-sim replay FILE`: a recording made with `--record`, with no mesh running. In a
// terminal, the same UI as `up`, played back (pause, seek, speed); with --summary or
// --json, or without a terminal, the summary `run` printed, rebuilt from the recording.

import { formatSummary } from '../mesh/summary.js';
import { loadRecording, replayAll, RecordingError, type Recording } from '../record/replay.js';
import { Player } from '../record/player.js';
import { SPEEDS } from '../record/speeds.js';
import { parseDuration } from '../scenario/units.js';
import { EXIT, UserError } from './exit-codes.js';
import { loadUi } from './up.js';
import type { Output } from './validate.js';

export interface ReplayOptions {
  summary?: boolean;
  json?: boolean;
  speed?: string;
  /** Start here, e.g. 1m30s into the run. */
  at?: string;
}

async function load(file: string, output: Output): Promise<Recording> {
  let recording: Recording;
  try {
    recording = await loadRecording(file);
  } catch (error) {
    if (error instanceof RecordingError) throw new UserError(error.message);
    throw error;
  }
  if (recording.torn) output.err(`mesh-sim: ${file} ends inside a frame (the run died while writing it): replaying up to its last whole second`);
  if (!recording.entries.some((e) => e.k === 'end')) output.err(`mesh-sim: ${file} has no end (the run did not finish): it replays as far as it was recorded`);
  return recording;
}

export async function replayCommand(file: string, options: ReplayOptions, output: Output): Promise<number> {
  const speed = options.speed === undefined ? 1 : Number(options.speed);
  if (!SPEEDS.includes(speed as (typeof SPEEDS)[number])) throw new UserError(`--speed takes one of ${SPEEDS.join(', ')}, not \`${options.speed}\``);
  const at = options.at === undefined ? 0 : parseDuration(options.at);
  if (at === undefined || at < 0) throw new UserError(`--at takes a time into the run such as 30s or 1m30s, not \`${options.at}\``);
  if (options.summary || options.json || !process.stdout.isTTY || !process.stdin.isTTY) {
    const recording = await load(file, output);
    const summary = replayAll(recording).summary();
    output.out(options.json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
    if (summary.interrupted) return EXIT.interrupted;
    return summary.checks.every((c) => c.ok) ? EXIT.ok : EXIT.checksFailed;
  }
  const recording = await load(file, output);
  const { render, React, App } = await loadUi();
  const player = new Player(recording);
  while (player.speed !== speed) speed > player.speed ? player.faster() : player.slower();
  if (at > 0) player.seek(recording.fromMs + at);

  let finished!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finished = resolve));
  const ui = render(React.createElement(App, {
    source: player.source(),
    onQuit: () => quit(),
    onNextEvent: () => player.toEvent(1),
    playback: player,
  }), { exitOnCtrlC: false, maxFps: 10, patchConsole: true });
  function quit(): void {
    ui.unmount();
    ui.cleanup();
    finished(EXIT.ok);
  }
  const onSignal = () => quit();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  const code = await done;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('SIGHUP', onSignal);
  return code;
}
