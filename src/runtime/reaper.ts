// The run's reaper: a small process of its own that outlives mesh-sim to clean up after
// it, as testcontainers' Ryuk does for its containers. mesh-sim holds a pipe to it; when
// mesh-sim ends without saying goodbye (kill -9, a crash, an OOM kill), the pipe closes
// and the reaper asks the run's runtime to remove everything of that run (containers
// and networks by the run's label, processes and process groups by the run's record),
// then exits. A clean stop says goodbye first, and the reaper leaves at once.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REAPER_ENV = 'MESH_SIM_REAPER';
/** What mesh-sim writes down the pipe when it has cleaned up itself. */
export const GOODBYE = 'goodbye\n';

export interface ReaperBoot {
  runtime: string;
  runId: string;
  /** mesh-sim's pid: watched too, should the pipe somehow outlive it. */
  owner: number;
}

/** How long a clean stop waits for the reaper to leave. */
const DISMISS_WAIT_MS = 2000;
const MAIN = fileURLToPath(new URL('./reaper-main.js', import.meta.url));

export class Reaper {
  private constructor(private readonly child: ChildProcess) {}

  /** Starts the reaper for a run; it neither keeps mesh-sim alive nor hears its Ctrl-C. */
  static start(runtime: string, runId: string): Reaper {
    const boot: ReaperBoot = { runtime, runId, owner: process.pid };
    const child = spawn(process.execPath, [MAIN], {
      // Its own session: a Ctrl-C or a closed terminal reaches mesh-sim, not the reaper.
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { ...process.env, [REAPER_ENV]: JSON.stringify(boot), NODE_OPTIONS: '' },
    });
    child.on('error', () => {});
    child.stdin!.on('error', () => {});
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    return new Reaper(child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** mesh-sim cleaned up after itself: the reaper goes without doing anything (waited for, briefly, so nothing outlives mesh-sim). */
  async dismiss(): Promise<void> {
    const { child } = this;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (child.stdin?.writable) child.stdin.end(GOODBYE);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([gone, new Promise<void>((resolve) => (timer = setTimeout(resolve, DISMISS_WAIT_MS)))]);
    clearTimeout(timer);
  }
}
