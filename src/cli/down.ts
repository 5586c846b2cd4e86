// `mesh-sim down`: removes what runs left behind when mesh-sim could not clean up (a
// kill -9, a crash): Docker containers and networks found by label, and processes of
// the process runtime found by their run records. Only dead runs', unless --all.

import { readFile, rm } from 'node:fs/promises';
import Docker from 'dockerode';
import { removeRuns, type Removed } from '../runtime/docker/cleanup.js';
import { ensureDocker } from '../runtime/docker/docker-runtime.js';
import { readRunRecords } from '../runtime/run-record.js';
import { EXIT } from './exit-codes.js';
import type { Output } from './validate.js';
import { plural } from './validate.js';

export interface DownOptions {
  all?: boolean;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Is this pid still one of ours? Its environment names its mesh-sim instance. */
async function isMeshSimProcess(pid: number): Promise<boolean> {
  try {
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
    return /(^|\0)(MESH_SIM_SIDECAR|MESH_SIM_WORKLOAD|MESH_SIM_INSTANCE)=/.test(environ);
  } catch {
    return false;
  }
}

export async function downCommand(options: DownOptions, output: Output): Promise<number> {
  let processes = 0;
  for (const record of await readRunRecords()) {
    if (!options.all && alive(record.owner)) continue;
    for (const member of record.members) {
      if (!alive(member.pid) || !(await isMeshSimProcess(member.pid))) continue;
      try {
        process.kill(member.group ? -member.pid : member.pid, 'SIGKILL');
        processes++;
      } catch {
        // Gone in the meantime.
      }
    }
    await rm(record.file, { force: true });
  }
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
  if (processes > 0) parts.push(`${processes === 1 ? '1 process' : `${processes} processes`} of the process runtime`);
  const scope = options.all ? '' : ' (runs still going are left alone; --all removes those too)';
  output.out(parts.length > 0 ? `removed ${parts.join(', and ')}${scope}` : `nothing to remove: no run left anything behind${removed ? '' : ' (Docker is not reachable here, so only processes were checked)'}${scope}`);
  return EXIT.ok;
}
