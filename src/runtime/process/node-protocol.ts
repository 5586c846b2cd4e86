// What the process runtime and its node processes say to each other over IPC
// (src/runtime/process/node-main.ts): pods' containers started, stopped, killed, ended,
// and how busy the node's event loop is while it is busy.

export const NODE_ENV = 'MESH_SIM_NODE';

export interface NodeBoot {
  /** The node's name: `node-0`. */
  node: string;
  controlUrl: string;
  controlSecret: string;
  /** How often the node's span batch goes to the collector. */
  flushMs: number;
}

export interface HostedContainer {
  name: 'app' | 'sidecar';
  program: 'sidecar' | 'workload';
  env: Record<string, string>;
}

export type NodeRequest =
  | { op: 'start'; pod: string; launch: number; containers: HostedContainer[] }
  /** Graceful: the container flushes its telemetry and ends (as on SIGTERM). */
  | { op: 'stop'; pod: string; container: 'app' | 'sidecar' }
  /** At once: its sockets close as a crashed process's would (as on SIGKILL). */
  | { op: 'kill'; pod: string; container: 'app' | 'sidecar' };

export type NodeReport =
  | { op: 'ready' }
  /** The node's event loop over its last second (0 to 1); sent only while the node is busy, and once as it calms. */
  | { op: 'load'; busy: number }
  | { op: 'exit'; pod: string; container: 'app' | 'sidecar'; launch: number; code: number | null; signal: string | null };
