// Removing what runs left behind, found by label: containers, then their networks.
// By default only runs whose mesh-sim is gone; with `all`, running ones too; with
// `{ run }`, one run's own leftovers (its last sweep on the way out).

import type Docker from 'dockerode';
import { LABEL, OWNER_LABEL, RUN_LABEL, ownerAlive } from './labels.js';

export interface Removed {
  runs: string[];
  containers: number;
  networks: number;
}

export type Which = 'dead' | 'all' | { run: string };

export async function removeRuns(docker: Docker, which: Which, except?: string): Promise<Removed> {
  const containers = await docker.listContainers({ all: true, filters: { label: [LABEL] } });
  const networks = await docker.listNetworks({ filters: { label: [LABEL] } });
  const owners = new Map<string, string | undefined>();
  for (const c of containers) owners.set(c.Labels[RUN_LABEL] ?? '', c.Labels[OWNER_LABEL]);
  for (const n of networks) if (!owners.has(n.Labels?.[RUN_LABEL] ?? '')) owners.set(n.Labels?.[RUN_LABEL] ?? '', n.Labels?.[OWNER_LABEL]);
  const chosen = ([run, owner]: [string, string | undefined]): boolean =>
    typeof which === 'object' ? run === which.run : run !== except && (which === 'all' || !ownerAlive(owner));
  const doomed = new Set([...owners].filter(chosen).map(([run]) => run));
  let removedContainers = 0;
  await Promise.all(containers.filter((c) => doomed.has(c.Labels[RUN_LABEL] ?? '')).map(async (c) => {
    try {
      await docker.getContainer(c.Id).remove({ force: true, v: true });
      removedContainers++;
    } catch {
      // Gone already, or being removed.
    }
  }));
  let removedNetworks = 0;
  for (const n of networks.filter((net) => doomed.has(net.Labels?.[RUN_LABEL] ?? ''))) {
    try {
      await docker.getNetwork(n.Id).remove();
      removedNetworks++;
    } catch {
      // Still in use or gone.
    }
  }
  return { runs: [...doomed], containers: removedContainers, networks: removedNetworks };
}
