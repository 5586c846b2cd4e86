// Removing what runs left behind, found by label: containers, then their networks.
// By default only runs whose mesh-sim is gone; with `all`, running ones too; with
// `{ run }`, one run's own leftovers (its last sweep on the way out, or its reaper's).

import type { DockerClient } from './client.js';
import { LABEL, OWNER_LABEL, RUN_LABEL, ownerAlive } from './labels.js';
import type { CleanupScope } from '../runtime.js';

export interface Removed {
  runs: string[];
  containers: number;
  networks: number;
}

export async function removeRuns(docker: DockerClient, which: CleanupScope, except?: string): Promise<Removed> {
  const containers = await docker.containers.list(LABEL);
  const networks = await docker.networks.list(LABEL);
  const owners = new Map<string, string | undefined>();
  for (const c of [...containers, ...networks]) {
    const run = c.labels[RUN_LABEL] ?? '';
    if (!owners.has(run)) owners.set(run, c.labels[OWNER_LABEL]);
  }
  const chosen = ([run, owner]: [string, string | undefined]): boolean =>
    typeof which === 'object' ? run === which.run : run !== except && (which === 'all' || !ownerAlive(owner));
  const doomed = new Set([...owners].filter(chosen).map(([run]) => run));
  let removedContainers = 0;
  await Promise.all(containers.filter((c) => doomed.has(c.labels[RUN_LABEL] ?? '')).map(async (c) => {
    try {
      await docker.containers.remove(c.id);
      removedContainers++;
    } catch {
      // Gone already, or being removed.
    }
  }));
  let removedNetworks = 0;
  for (const n of networks.filter((net) => doomed.has(net.labels[RUN_LABEL] ?? ''))) {
    try {
      await docker.networks.remove(n.id);
      removedNetworks++;
    } catch {
      // Still in use or gone.
    }
  }
  return { runs: [...doomed], containers: removedContainers, networks: removedNetworks };
}
