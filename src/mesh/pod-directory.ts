// What a running mesh tells other mesh-sim commands on this machine: where each pod's
// sidecar admin listener is, so `mesh-sim proxy POD stats` can ask it, as
// `pilot-agent request GET stats` does inside a pod. One file per run in mesh-sim's
// private state directory (0700, files 0600), written whole as pods come and go and
// removed when the mesh stops; a file whose mesh died is ignored, then removed.

import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { alive, privateDirectory, stateDirectory } from '../runtime/run-record.js';
import type { StartedInstance } from '../runtime/runtime.js';

export interface MeshPods {
  runId: string;
  /** mesh-sim's pid: the file is current while it lives. */
  owner: number;
  scenario: string;
  startedAt: string;
  /** Each pod's admin listener; on Docker, as its sidecar container reaches it on its own loopback. */
  pods: Record<string, { service: string; version: string; admin: string; container?: string }>;
}

const directory = () => join(stateDirectory(), 'pods');

export class PodDirectory {
  private readonly data: MeshPods;
  private readonly file: string;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(runId: string, scenario: string) {
    this.data = { runId, owner: process.pid, scenario, startedAt: new Date().toISOString(), pods: {} };
    this.file = join(directory(), `${runId}.json`);
  }

  /** A pod's admin listener (none: the pod is gone, or has no sidecar). */
  set(instance: string, service: string, version: string, started: Pick<StartedInstance, 'admin' | 'adminInPod'> | undefined): void {
    const { admin, adminInPod } = started ?? {};
    if (admin) this.data.pods[instance] = { service, version, admin: `http://${admin.host.includes(':') ? `[${admin.host}]` : admin.host}:${admin.port}` };
    else if (adminInPod) this.data.pods[instance] = { service, version, admin: `http://127.0.0.1:${adminInPod.port}`, container: adminInPod.container };
    else delete this.data.pods[instance];
    // Pods start by the hundred: one write for a burst of them.
    if (!this.timer && !this.closed) this.timer = setTimeout(() => this.flush(), 100);
  }

  private flush(): void {
    this.timer = undefined;
    const text = JSON.stringify(this.data, null, 2);
    this.writing = this.writing.then(async () => {
      if (this.closed) return;
      await privateDirectory(directory());
      // Whole or not at all: a reader never sees half a file.
      await writeFile(`${this.file}.tmp`, text, { mode: 0o600 });
      await rename(`${this.file}.tmp`, this.file);
    }).catch(() => {
      // Another command cannot find this mesh's pods; the mesh itself runs on.
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.writing;
    await rm(this.file, { force: true });
    await rm(`${this.file}.tmp`, { force: true });
  }
}

/** The meshes running on this machine for this user, newest first. */
export async function runningMeshes(): Promise<MeshPods[]> {
  let names: string[];
  try {
    await privateDirectory(directory());
    names = await readdir(directory());
  } catch {
    return [];
  }
  const meshes: MeshPods[] = [];
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const file = join(directory(), name);
    try {
      const mesh = JSON.parse(await readFile(file, 'utf8')) as MeshPods;
      if (alive(mesh.owner)) meshes.push(mesh);
      else await rm(file, { force: true });
    } catch {
      // Not one of ours, or being replaced: skip it.
    }
  }
  return meshes.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}
