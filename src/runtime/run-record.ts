// A note on disk of what a run has started, so `mesh-sim down` can clean up after a
// mesh-sim that was killed before it could (kill -9, a closed laptop lid, a crash). The
// notes live in a directory only their user can read or write (0700, owner checked), and
// clean-up deletes nothing outside it: a note cannot be planted to delete what is not a run's.

import { lstat, chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join, relative, resolve, isAbsolute } from 'node:path';
import { RuntimeUnavailableError, type CleanupScope } from './runtime.js';
import { makeDirectory } from '../make-directory.js';

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

/** mesh-sim's own state: MESH_SIM_STATE_DIR, or a directory of the user's in the temporary directory. */
export function stateDirectory(): string {
  let user = 'user';
  try {
    user = userInfo().username;
  } catch {
    // No user name in this environment: fall back to the uid.
    user = String(process.getuid?.() ?? 'user');
  }
  return resolve(process.env.MESH_SIM_STATE_DIR ?? join(tmpdir(), `mesh-sim-${user}`));
}

export function runsDirectory(): string {
  return join(stateDirectory(), 'runs');
}

/** A state directory that is not safe to use: said in words, with what to do. */
export class UnsafeStateDirectory extends RuntimeUnavailableError {
  constructor(readonly path: string, why: string) {
    super(`${path} ${why}: mesh-sim keeps its run records there and will not use it (set MESH_SIM_STATE_DIR to a directory of your own)`);
    this.name = 'UnsafeStateDirectory';
  }
}

/**
 * Makes `dir` (and the state directory above it) if need be, private to this user:
 * a directory, not a symlink, owned by this user, mode 0700.
 */
export async function privateDirectory(dir: string): Promise<string> {
  for (const path of [stateDirectory(), dir]) {
    try {
      await makeDirectory(path, 0o700);
    } catch (error) {
      throw new UnsafeStateDirectory(path, `cannot be made (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    const info = await lstat(path);
    if (info.isSymbolicLink()) throw new UnsafeStateDirectory(path, 'is a symbolic link');
    if (!info.isDirectory()) throw new UnsafeStateDirectory(path, 'is not a directory');
    const uid = process.getuid?.();
    if (uid !== undefined && info.uid !== uid) throw new UnsafeStateDirectory(path, `belongs to another user (uid ${info.uid})`);
    if ((info.mode & 0o077) !== 0) await chmod(path, 0o700);
  }
  return dir;
}

/** Whether `path` lies inside the state directory (and is not it). */
export function insideStateDirectory(path: string): boolean {
  const rel = relative(stateDirectory(), resolve(path));
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/** A scratch directory for one run (Prometheus's data, say), inside the private state directory. */
export async function runScratchDirectory(runId: string, name: string): Promise<string> {
  await privateDirectory(join(stateDirectory(), 'scratch'));
  const dir = join(stateDirectory(), 'scratch', `${runId}-${name}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { mode: 0o700 });
  return dir;
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
    await privateDirectory(runsDirectory());
    await writeFile(this.file, JSON.stringify(this.data, null, 2), { mode: 0o600 });
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
    // Records are read only from a directory that is still private to this user.
    await privateDirectory(dir);
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

export function alive(pid: number): boolean {
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
    return /(^|\0)(MESH_SIM_NODE|MESH_SIM_SIDECAR|MESH_SIM_WORKLOAD|MESH_SIM_INSTANCE)=/.test(environ);
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
 * directories: runs whose mesh-sim is gone, all, or one run's; `except` spares one run.
 */
export async function removeProcessRuns(which: CleanupScope, except?: string): Promise<RemovedProcesses> {
  let runs = 0;
  let processes = 0;
  for (const record of await readRunRecords()) {
    if (record.runId === except) continue;
    if (typeof which === 'object' ? record.runId !== which.run : which === 'dead' && alive(record.owner)) continue;
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
    // Only what lies inside the private state directory is deleted, whatever a record says.
    for (const directory of record.directories ?? []) if (insideStateDirectory(directory)) await rm(directory, { recursive: true, force: true });
    await rm(record.file, { force: true });
  }
  return { runs, processes };
}
