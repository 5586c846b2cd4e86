// How a sample workload process is told who it is: one JSON environment variable,
// the same on every runtime.

import { readBootEnv } from '../runtime/boot-env.js';

import type { WorkloadSnapshot } from '../control/protocol.js';

export interface WorkloadBoot {
  instance: string;
  service: string;
  version: string;
  listen: { host: string; port: number };
  /** tcp: an echo server (each line answered, after the latency, as `VERSION line`). */
  protocol?: 'http' | 'tcp';
  /**
   * Its sidecar's outbound listener, where calls go (what HTTP_PROXY names); undefined
   * on a cluster, where calls go to the service's name and Istio's Envoy intercepts them.
   */
  proxy: { host: string; port: number } | undefined;
  /** Where to poll for behaviour changes; absent means the initial behaviour is final. */
  controlUrl: string | undefined;
  /** The run's secret for the control plane. */
  controlSecret: string;
  initial: WorkloadSnapshot;
}

export const WORKLOAD_ENV = 'MESH_SIM_WORKLOAD';

export function readWorkloadBoot(env: NodeJS.ProcessEnv): WorkloadBoot {
  return readBootEnv<WorkloadBoot>(env, WORKLOAD_ENV);
}
