// The reaper's own process (see reaper.ts): waits for mesh-sim to go, and if it went
// without a goodbye, has the run's runtime remove everything of that run.

import { readBootEnv } from './boot-env.js';
import { GOODBYE, REAPER_ENV, type ReaperBoot } from './reaper.js';
import { RUNTIMES, isRuntimeName } from './registry.js';

/** How often the owner's pid is checked, besides the pipe. */
const OWNER_POLL_MS = 1000;
/** A clean-up that hangs (a daemon that stopped answering) must not keep the reaper for ever. */
const CLEANUP_LIMIT_MS = 120_000;

const boot = readBootEnv<ReaperBoot>(process.env, REAPER_ENV);
let heard = '';
let done = false;

function ownerAlive(): boolean {
  try {
    process.kill(boot.owner, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function reap(): Promise<void> {
  if (done) return;
  done = true;
  if (heard.includes(GOODBYE.trim())) process.exit(0);
  setTimeout(() => process.exit(1), CLEANUP_LIMIT_MS).unref();
  try {
    if (isRuntimeName(boot.runtime)) await RUNTIMES[boot.runtime].cleanup({ run: boot.runId });
  } finally {
    process.exit(0);
  }
}

// A terminal's hang-up or Ctrl-C is for mesh-sim, which cleans up itself.
process.on('SIGHUP', () => {});
process.on('SIGINT', () => {});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => (heard += chunk));
process.stdin.on('end', () => void reap());
process.stdin.on('error', () => void reap());
setInterval(() => {
  if (!ownerAlive()) void reap();
}, OWNER_POLL_MS);
