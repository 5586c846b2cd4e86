// The sidecar's process: reads its boot, runs, and on SIGTERM (or when mesh-sim, its
// parent, is gone) flushes its telemetry before exiting, so a clean stop loses no span.

import { readSidecarBoot } from './boot.js';
import { Sidecar } from './sidecar.js';

const boot = readSidecarBoot(process.env);
const sidecar = new Sidecar(boot, (text) => process.stdout.write(text));

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(0), 3000);
  force.unref();
  try {
    await sidecar.stop();
  } finally {
    process.exit(0);
  }
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.on('disconnect', () => void stop());

try {
  await sidecar.start((message) => process.stderr.write(`${boot.instance}: ${message}\n`));
} catch (error) {
  process.stderr.write(`${boot.instance}: cannot start: ${(error as Error).message}\n`);
  process.exit(1);
}
