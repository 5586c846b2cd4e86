// A note on disk of what a run has started, so `mesh-sim down` can clean up after a
// mesh-sim that was killed before it could (kill -9, a closed laptop lid, a crash).

import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface RunRecordData {
  runId: string;
  runtime: 'process' | 'docker';
  /** mesh-sim's own pid: a record whose owner is alive belongs to a running mesh. */
  owner: number;
  startedAt: string;
  /** Process runtime: what it started; groups are killed as a group. */
  members: Array<{ pid: number; group: boolean }>;
  /** Scratch directories (Prometheus's data) to delete with the run. */
  directories?: string[];
}

export function runsDirectory(): string {
  let user = 'user';
  try {
    user = userInfo().username;
  } catch {
    // No user name in this environment: fall back to a shared name.
  }
  return join(process.env.MESH_SIM_STATE_DIR ?? join(tmpdir(), `mesh-sim-${user}`), 'runs');
}

export class RunRecord {
  private data: RunRecordData;
  private readonly file: string;

  constructor(runId: string, runtime: RunRecordData['runtime']) {
    this.data = { runId, runtime, owner: process.pid, startedAt: new Date().toISOString(), members: [] };
    this.file = join(runsDirectory(), `${runId}.json`);
  }

  get runId(): string {
    return this.data.runId;
  }

  async write(): Promise<void> {
    await mkdir(runsDirectory(), { recursive: true });
    await writeFile(this.file, JSON.stringify(this.data, null, 2));
  }

  async setMembers(members: RunRecordData['members'], directories: string[] = []): Promise<void> {
    this.data = { ...this.data, members, directories };
    await this.write();
  }

  async remove(): Promise<void> {
    await rm(this.file, { force: true });
  }
}

export async function readRunRecords(): Promise<Array<RunRecordData & { file: string }>> {
  const dir = runsDirectory();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const records: Array<RunRecordData & { file: string }> = [];
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    try {
      records.push({ ...(JSON.parse(await readFile(join(dir, name), 'utf8')) as RunRecordData), file: join(dir, name) });
    } catch {
      // A half-written record: ignore it.
    }
  }
  return records;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Is this pid still one of ours, and not a stranger that reused the number? Its environment names its mesh-sim instance. */
async function isMeshSimProcess(pid: number): Promise<boolean> {
  try {
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
    return /(^|\0)(MESH_SIM_SIDECAR|MESH_SIM_WORKLOAD|MESH_SIM_INSTANCE)=/.test(environ);
  } catch {
    return false;
  }
}

export interface RemovedProcesses {
  runs: number;
  processes: number;
}

/**
 * Kills what process-runtime runs left behind and deletes their records and scratch
 * directories. By default only runs whose mesh-sim is gone; `except` spares one run.
 */
export async function removeProcessRuns(which: 'dead' | 'all', except?: string): Promise<RemovedProcesses> {
  let runs = 0;
  let processes = 0;
  for (const record of await readRunRecords()) {
    if (record.runId === except || (which === 'dead' && alive(record.owner))) continue;
    runs++;
    for (const member of record.members) {
      if (!alive(member.pid) || !(await isMeshSimProcess(member.pid))) continue;
      try {
        process.kill(member.group ? -member.pid : member.pid, 'SIGKILL');
        processes++;
      } catch {
        // Gone in the meantime.
      }
    }
    for (const directory of record.directories ?? []) await rm(directory, { recursive: true, force: true });
    await rm(record.file, { force: true });
  }
  return { runs, processes };
}
