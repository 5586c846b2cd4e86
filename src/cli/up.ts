// `mesh-sim up FILE`: the mesh, live in the terminal until the user quits. Startup
// shows each instance coming up; `q`, Ctrl-C or SIGTERM restore the terminal and stop
// everything the run started.

import { formatDuration } from '../scenario/units.js';
import { LiveEdit } from '../mesh/live-edit.js';
import { InstanceStartError, RuntimeUnavailableError } from '../runtime/runtime.js';
import { EXIT, UserError } from './exit-codes.js';
import { recordingReport } from '../record/recorder.js';
import { prepareSession, type SessionFlags } from './run.js';
import type { Output } from './validate.js';

export interface UpOptions extends SessionFlags {
  /** False with --no-prometheus. */
  prometheus?: boolean;
  /** Apply the file again on every save. */
  watch?: boolean;
}

/**
 * ink draws only its last frame when it believes it runs in CI (CI or
 * CONTINUOUS_INTEGRATION set, read once as it loads). up has a person's terminal by
 * now, so it hides those while ink loads, and puts them back for everyone else.
 */
async function withoutCiDetection<T>(load: () => Promise<T>): Promise<T> {
  const saved = { CI: process.env.CI, CONTINUOUS_INTEGRATION: process.env.CONTINUOUS_INTEGRATION };
  process.env.CI = 'false';
  process.env.CONTINUOUS_INTEGRATION = 'false';
  try {
    return await load();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** ink, React and the UI, loaded for a person's terminal (NO_COLOR honoured, React's production build). */
export async function loadUi() {
  // chalk (ink's colours) reads FORCE_COLOR but not NO_COLOR: translate before ink loads.
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') process.env.FORCE_COLOR = '0';
  // React's production build: faster frames, and no development warnings over the UI.
  process.env.NODE_ENV ??= 'production';
  const [{ render }, React, { App }, { UiStore }] = await withoutCiDetection(() => Promise.all([
    import('ink'), import('react'), import('../tui/app.js'), import('../tui/store.js'),
  ]));
  return { render, React, App, UiStore };
}

/** A live UI needs a terminal: say what to do without one. */
function requireTerminal(command: string, instead: string): void {
  if (!process.stdout.isTTY || !process.stdin.isTTY) {
    const which = !process.stdout.isTTY ? 'standard output' : 'standard input';
    throw new UserError(`\`${command}\` draws a live UI and needs a terminal, but ${which} is not one.\n  ${instead}`);
  }
}

export async function upCommand(file: string, options: UpOptions, output: Output): Promise<number> {
  requireTerminal('up', `To run without the UI:  mesh-sim run ${file}   (add --json for a machine-readable summary)`);
  const prepared = await prepareSession(file, options, output, () => 900);
  if (!prepared) return EXIT.badInput;
  const { loaded, session, runtime, jaeger, recorder } = prepared;

  const { render, React, App, UiStore } = await loadUi();

  const store = new UiStore(session, runtime);
  for (const warning of loaded.warnings) store.warn(`${warning.path}: ${warning.message}`);
  const liveEdit = new LiveEdit(file, session, {
    applied: (changes) => store.fileApplied(changes),
    invalid: (problems) => store.fileInvalid(problems),
  });
  const applyFile = (force: boolean) => void liveEdit.applyNow(force).catch((error: Error) => store.warn(`applying ${file}: ${error.message}`));

  let finished!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finished = resolve));
  let quitting = false;
  let failure: string | undefined;
  const ui = render(React.createElement(App, {
    source: store,
    onQuit: () => void quit(EXIT.ok),
    onNextEvent: () => session.timeline?.skipToNext(),
    onApply: () => {
      if (session.traffic) applyFile(true);
    },
  }), { exitOnCtrlC: false, maxFps: 10, patchConsole: true });

  async function quit(code: number): Promise<void> {
    if (quitting) return;
    quitting = true;
    store.setPhase('stopping');
    ui.unmount();
    ui.cleanup();
    await liveEdit.close();
    if (failure) output.err(`mesh-sim: ${failure}`);
    output.err(`mesh-sim: stopping ${loaded!.scenario.name}…`);
    await session.shutdown();
    await recorder?.close();
    if (recorder) output.err(`mesh-sim: ${recordingReport(recorder)}`);
    const requests = session.traffic?.counts.answered ?? 0;
    output.err(`mesh-sim: stopped after ${formatDuration(Math.round(session.runSeconds()) * 1000)}, ${requests} requests answered; nothing it started is left running`);
    finished(code);
  }
  const onSignal = () => void quit(EXIT.ok);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  try {
    await session.start();
    if (!quitting) {
      store.setPhase('running');
      session.beginTraffic();
      if (options.watch) await liveEdit.start();
      // In the background: an image pull may take a while, and the mesh is already worth watching.
      if (options.prometheus !== false || jaeger) void session.startObservability(5, jaeger).catch((error: Error) => store.warn(`Prometheus: ${error.message}`));
    }
  } catch (error) {
    if (error instanceof RuntimeUnavailableError) failure = error.message;
    else if (error instanceof InstanceStartError) failure = `${error.message}\nmesh-sim: the mesh did not start; everything it started has been stopped`;
    else failure = `internal error: ${(error as Error).message}`;
    store.setPhase('failed', failure);
    // Leave the failure on screen a moment, then restore the terminal and say it plainly.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    void quit(error instanceof RuntimeUnavailableError || error instanceof InstanceStartError ? EXIT.badInput : EXIT.internal);
  }
  const code = await done;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('SIGHUP', onSignal);
  return code;
}
