// `mesh-sim down`: removes what runs left behind when mesh-sim could not clean up (a
// kill -9, a crash): Docker containers and networks found by label, and processes of
// the process runtime found by their run records. Only dead runs', unless --all.

import Docker from 'dockerode';
import { removeRuns, type Removed } from '../runtime/docker/cleanup.js';
import { ensureDocker } from '../runtime/docker/docker-runtime.js';
import { removeProcessRuns } from '../runtime/run-record.js';
import { EXIT } from './exit-codes.js';
import type { Output } from './validate.js';
import { plural } from '../words.js';

export interface DownOptions {
  all?: boolean;
}

export async function downCommand(options: DownOptions, output: Output): Promise<number> {
  const { processes } = await removeProcessRuns(options.all ? 'all' : 'dead');
  const docker = new Docker();
  let removed: Removed | undefined;
  try {
    await ensureDocker(docker);
    removed = await removeRuns(docker, options.all ? 'all' : 'dead');
  } catch {
    // No Docker here: nothing of a run can be on it.
  }
  const parts: string[] = [];
  if (removed && removed.containers + removed.networks > 0) {
    parts.push(`${plural(removed.containers, 'container')} and ${plural(removed.networks, 'network')} of ${plural(removed.runs.length, 'run')} on Docker`);
  }
  if (processes > 0) parts.push(`${plural(processes, 'process', 'processes')} of the process runtime`);
  const scope = options.all ? '' : ' (runs still going are left alone; --all removes those too)';
  output.out(parts.length > 0 ? `removed ${parts.join(', and ')}${scope}` : `nothing to remove: no run left anything behind${removed ? '' : ' (Docker is not reachable here, so only processes were checked)'}${scope}`);
  return EXIT.ok;
}
