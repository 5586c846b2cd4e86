// The sidecar's process: reads its boot, runs, and on SIGTERM (or when mesh-sim, its
// parent, is gone) flushes its telemetry before exiting, so a clean stop loses no span.
// While it serves requests it tells mesh-sim how busy its loop is, as a node process
// does, so the overload watch sees a Docker sidecar fall behind.

import { readSidecarBoot } from './boot.js';
import { Sidecar } from './sidecar.js';
import { BusyReporter } from '../self-load/reporter.js';
import { LoadPoster } from '../self-load/endpoint.js';

const boot = readSidecarBoot(process.env);
const poster = new LoadPoster(boot.controlUrl, boot.instance, boot.controlSecret);
const load = new BusyReporter((busy) => poster.send(busy));
// The access log comes in batches while requests flow: the reporter's sign of activity.
const sidecar = new Sidecar(boot, (text) => {
  load.active();
  process.stdout.write(text);
});

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  load.stop();
  poster.stop();
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
