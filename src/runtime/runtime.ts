// The seam between the mesh and where it runs. A runtime starts each instance (an app
// and its sidecar, like a pod), streams their output, kills and restarts them, and
// stops them all. `process` runs them as local processes; `docker` as containers.

import type { WorkloadSnapshot } from '../control/protocol.js';

export type InstanceKind = 'sample' | 'command' | 'image' | 'gateway';

export interface InstancePlan {
  /** Pod-like name: `reviews-v2-0`, or `istio-ingressgateway`. */
  id: string;
  service: string;
  version: string;
  replica: number;
  /** Istio's workload name: `reviews-v2`. */
  workload: string;
  kind: InstanceKind;
  /** For `command`: the program line, run by the shell. */
  command: string | undefined;
  /** For `image`: the user's image. */
  image: string | undefined;
  /** The service's port in the mesh (what callers write in the authority). */
  servicePort: number;
  /** The Kubernetes service account the pod runs as: its SPIFFE identity. */
  serviceAccount: string;
  /** tcp: the app is an echo server and its sidecar proxies TCP (Envoy's tcp_proxy). */
  protocol: 'http' | 'tcp';
  /** false: a pod outside the mesh; a plain pass-through stands in for its sidecar. */
  sidecar: boolean;
}

export interface Address {
  host: string;
  port: number;
}

export interface StartedInstance {
  id: string;
  /** Where other sidecars reach this instance's inbound listener. */
  endpoint: Address;
  /** Gateway only: where traffic from this machine enters the mesh. */
  ingress: Address | undefined;
  /** Where this machine reaches the sidecar's admin listener (/stats/prometheus). */
  admin: Address | undefined;
  /**
   * Docker: the sidecar's container and the admin listener's port on its loopback, which
   * this machine cannot reach; `mesh-sim proxy` asks from inside it, as `kubectl exec` does.
   */
  adminInPod?: { container: string; port: number };
}

export interface LogLine {
  instance: string;
  container: 'sidecar' | 'app';
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  /** True when mesh-sim asked for it (stop, or a timeline kill). */
  expected: boolean;
  /** The last lines it wrote to stderr, to explain an unexpected exit. */
  lastWords: string[];
}

export interface RuntimeHooks {
  onLog(line: LogLine): void;
  onExit(instance: string, info: ExitInfo): void;
  /** How busy a process of mesh-sim's hosting pods was over its last second (0 to 1), where the runtime can tell. */
  onLoad?(source: string, busy: number): void;
}

export interface MeshEnvironment {
  /** The control plane and collector, as instances reach them. */
  controlUrl: string;
  /** The run's secret, which every request to them carries (in the environment, never a command line). */
  controlSecret: string;
  /** The behaviour an instance starts with (it follows changes by polling). */
  initialWorkload(plan: InstancePlan): WorkloadSnapshot;
}

export interface RuntimePreparation {
  /** Addresses the control plane must listen on for instances to reach it. */
  listenHosts: string[];
  /** The host instances use in controlUrl. */
  controlHost: string;
}

/** Where Prometheus, Grafana and Jaeger ended up, if anywhere, and why not otherwise. */
export interface Observability {
  prometheus: string | undefined;
  grafana: string | undefined;
  /** Jaeger's UI, and where this machine sends it spans (OTLP/HTTP), when `--jaeger` started it. */
  jaeger?: { ui: string; otlp: string };
  notes: string[];
}

export interface ObservabilityOptions {
  scrapeIntervalSeconds: number;
  /** Also start Jaeger all-in-one (Docker only), with Grafana's Jaeger data source. */
  jaeger?: boolean;
}

export interface Runtime {
  /** Its name in the registry (src/runtime/registry.ts): `process`, `docker`. */
  readonly name: string;
  /** Gets ready to start instances (a Docker network, images); says where the control plane listens. */
  prepare(progress: (message: string) => void): Promise<RuntimePreparation>;
  start(plan: InstancePlan, env: MeshEnvironment): Promise<StartedInstance>;
  /** Stops an instance the hard way (SIGKILL), as a crash would. */
  kill(id: string): Promise<void>;
  /** Starts a killed instance again; its address may change. */
  restart(id: string): Promise<StartedInstance>;
  /** Stops one instance for good (gracefully, then by force after `graceMs`) and removes what it leaves. */
  remove(id: string, graceMs?: number): Promise<void>;
  /** Starts Prometheus (and Grafana, where it can) scraping every sidecar; never fatal. */
  startObservability(progress: (message: string) => void, options: ObservabilityOptions): Promise<Observability>;
  /** Stops everything it started: gracefully, then by force after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** What a user may say about where the mesh runs. */
export interface RuntimeOptions {
  /** Process runtime: how many node processes host the pods (default: one per core). */
  nodes?: number;
}

export type RuntimeFactory = (hooks: RuntimeHooks, runId: string, options?: RuntimeOptions) => Runtime;

/** Which runs' leftovers to remove: those whose mesh-sim is gone, all, or one run's. */
export type CleanupScope = 'dead' | 'all' | { run: string };

export interface CleanupReport {
  /** Runs whose leftovers were removed. */
  runs: number;
  /** What was removed, in words (`3 containers and 1 network`); empty when nothing was. */
  removed: string;
  /** False when the runtime could not look (no Docker daemon here). */
  reachable: boolean;
}

/** A runtime as the CLI, `down` and the reaper know it: how to make one, how to clean up after one. */
export interface RuntimeDefinition {
  name: string;
  /** One line for `--help`. */
  summary: string;
  create: RuntimeFactory;
  /** Removes what runs left behind: containers, processes, scratch directories. */
  cleanup(scope: CleanupScope): Promise<CleanupReport>;
}

/** A runtime that cannot run here, with what to do about it; exit code 2. */
export class RuntimeUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeUnavailableError';
  }
}

/** An instance that would not start or become ready. */
export class InstanceStartError extends Error {
  constructor(readonly instance: string, message: string, readonly lastWords: string[] = []) {
    super(message);
    this.name = 'InstanceStartError';
  }
}
