// How the traffic generator is told what to send when it runs on its own (a Job on a
// cluster): one JSON environment variable, as the sidecar and workload are told.

import { readBootEnv } from '../runtime/boot-env.js';
import type { TrafficFlow } from '../scenario/model.js';

export interface TrafficBoot {
  /** Where traffic enters the mesh (the ingress gateway). */
  target: { host: string; port: number };
  seed: number;
  durationMs: number;
  /** Each service's port, for the Host header (`productpage:9080`). */
  ports: Record<string, number>;
  flows: TrafficFlow[];
  /** The flows in force from scenario time `atMs` on (timeline `set`s of traffic). */
  changes: Array<{ atMs: number; flows: TrafficFlow[] }>;
}

export const TRAFFIC_ENV = 'MESH_SIM_TRAFFIC';

export function readTrafficBoot(env: NodeJS.ProcessEnv): TrafficBoot {
  return readBootEnv<TrafficBoot>(env, TRAFFIC_ENV);
}
