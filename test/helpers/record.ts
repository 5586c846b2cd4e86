// A real run recorded in-process: a session on the process runtime with a Recorder as
// its tap, run for a while and finished, leaving the recording file and the session.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Recorder } from '../../src/record/recorder.js';
import { MeshSession } from '../../src/mesh/session.js';
import { runtimeFactory } from '../../src/runtime/registry.js';
import { loadText, sleep } from './mesh.js';

export async function recordRun(scenario: string, seed: number, ms: number): Promise<{ dir: string; file: string; session: MeshSession }> {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-sim-rec-'));
  const file = join(dir, 'run.msrec');
  const recorder = await Recorder.create(file);
  const session = new MeshSession(await loadText(scenario), { runtimeFactory: runtimeFactory('process'), seed, tap: recorder });
  recorder.attach(session, 'process');
  try {
    await session.start();
    session.beginTraffic();
    await sleep(ms);
    await session.finish();
  } finally {
    await session.shutdown();
    await recorder.close();
  }
  return { dir, file, session };
}
