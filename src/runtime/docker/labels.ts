// The labels on everything the Docker runtime creates: how a run finds its own, and
// how `mesh-sim down` finds what a dead run left behind.

import { hostname } from 'node:os';

export const LABEL = 'mesh-sim';
export const RUN_LABEL = 'mesh-sim.run';
export const OWNER_LABEL = 'mesh-sim.owner';
export const ROLE_LABEL = 'mesh-sim.role';

export type Role = 'app' | 'sidecar' | 'gateway' | 'prometheus' | 'grafana' | 'jaeger';

/** `host:pid` of the mesh-sim that made it: alive means the run is still going. */
export function ownerLabel(): string {
  return `${hostname()}:${process.pid}`;
}

export function runLabels(runId: string, role: Role, extra: Record<string, string> = {}): Record<string, string> {
  return { [LABEL]: 'true', [RUN_LABEL]: runId, [OWNER_LABEL]: ownerLabel(), [ROLE_LABEL]: role, ...extra };
}

/** True when the owner is a mesh-sim on this host that is still running. */
export function ownerAlive(owner: string | undefined): boolean {
  if (!owner) return false;
  const [host, pid] = owner.split(':');
  if (host !== hostname()) return true;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
