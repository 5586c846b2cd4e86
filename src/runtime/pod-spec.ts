// One instance as a pod: its containers (the app, then the sidecar), what each runs,
// its environment, ports, labels and identity, built once from the plan. Runtimes only
// carry a spec out: the process runtime spawns it, the Docker runtime creates its
// containers, the Kubernetes exporter renders it. Nothing about a pod's make-up is
// decided anywhere else.

import { NAMESPACE } from '../control/protocol.js';
import { podLabelsOf } from '../identity/labels.js';
import { SIDECAR_ENV, type SidecarBoot } from '../sidecar/boot.js';
import { WORKLOAD_ENV, type WorkloadBoot } from '../workload/boot.js';
import type { InstancePlan, MeshEnvironment } from './runtime.js';
import type { WorkloadSnapshot } from '../control/protocol.js';
import { authorization } from '../control/http.js';

/** What a container runs. */
export type Program =
  /** mesh-sim's sidecar proxy (its boot in MESH_SIM_SIDECAR). */
  | { kind: 'sidecar' }
  /** mesh-sim's sample workload (its boot in MESH_SIM_WORKLOAD). */
  | { kind: 'workload' }
  /** A user's program line, run by the shell in its own process group. */
  | { kind: 'shell'; command: string }
  /** A user's image, with its own entrypoint. */
  | { kind: 'image'; image: string };

export interface ContainerSpec {
  name: 'app' | 'sidecar';
  program: Program;
  env: Record<string, string>;
}

/** The ports inside a pod's network namespace. */
export interface PodPorts {
  app: number;
  /** Where callers reach the app through the sidecar (Istio's 15006). */
  inbound: number;
  /** Where the app's calls go (Istio's 15001); the gateway's way in. */
  outbound: number;
  /** /stats/prometheus and /healthz/ready (Istio's 15090/15021, one port here). */
  admin: number;
}

/** Where a runtime puts the pod: its ports, and the addresses its listeners bind. */
export interface Placement {
  ports: PodPorts;
  /** Inbound and admin: all interfaces in a namespace of the pod's own, loopback on a shared host. */
  listenHost: string;
  /** Outbound: only the app calls out through it, but the gateway's faces the world. */
  outboundHost: string;
}

export interface PodSpec {
  plan: InstancePlan;
  /** Kubernetes' and Istio's labels: what subsets, telemetry and dashboards select on. */
  labels: Record<string, string>;
  /** The pod's identity (Istio's principal is `cluster.local/ns/NAMESPACE/sa/ACCOUNT`). */
  serviceAccount: string;
  /** The app first: it owns the pod's network namespace, the sidecar joins it. */
  containers: ContainerSpec[];
  ports: PodPorts;
  /** Ready when the sidecar's admin listener says so (it waits for config and the app). */
  readiness: { container: 'sidecar'; port: number; path: string };
}

/** The pod for an instance, placed as the runtime places it. */
export function podSpec(plan: InstancePlan, env: MeshEnvironment, placement: Placement): PodSpec {
  const { ports } = placement;
  const containers: ContainerSpec[] = [];
  const app = appContainer(plan, env, ports);
  if (app) containers.push(app);
  const boot: SidecarBoot = {
    instance: plan.id,
    service: plan.service,
    version: plan.version,
    namespace: NAMESPACE,
    workload: plan.workload,
    servicePort: plan.servicePort,
    serviceAccount: plan.serviceAccount,
    ...(plan.protocol === 'tcp' ? { protocol: 'tcp' as const } : {}),
    mode: plan.kind === 'gateway' ? 'gateway' : plan.sidecar ? 'sidecar' : 'none',
    listen: {
      host: placement.listenHost,
      inbound: ports.inbound,
      outbound: ports.outbound,
      admin: ports.admin,
      ...(placement.outboundHost !== placement.listenHost ? { outboundHost: placement.outboundHost } : {}),
    },
    // The app listens on the pod's loopback: only its sidecar reaches it.
    app: plan.kind === 'gateway' ? undefined : { host: '127.0.0.1', port: ports.app },
    controlUrl: env.controlUrl,
    controlSecret: env.controlSecret,
  };
  containers.push({ name: 'sidecar', program: { kind: 'sidecar' }, env: { [SIDECAR_ENV]: JSON.stringify(boot) } });
  return pod(plan, containers, ports, ports.admin);
}

/**
 * The pod on a Kubernetes cluster with Istio: the app alone (Istio injects Envoy), on
 * all of the pod's interfaces (Envoy forwards inbound traffic to the pod's address), its
 * calls to the services' names (Envoy intercepts them), its behaviour final from the
 * start (no mesh-sim control plane there). A user's command cannot run there.
 */
export function clusterPodSpec(plan: InstancePlan, initial: WorkloadSnapshot): PodSpec {
  const ports: PodPorts = { app: plan.servicePort, inbound: 15006, outbound: 15001, admin: 15020 };
  const containers: ContainerSpec[] = [];
  if (plan.kind === 'sample') {
    const boot: WorkloadBoot = {
      instance: plan.id,
      service: plan.service,
      version: plan.version,
      listen: { host: '0.0.0.0', port: ports.app },
      ...(plan.protocol === 'tcp' ? { protocol: 'tcp' as const } : {}),
      proxy: undefined,
      controlUrl: undefined,
      controlSecret: '',
      initial,
    };
    containers.push({ name: 'app', program: { kind: 'workload' }, env: { [WORKLOAD_ENV]: JSON.stringify(boot) } });
  } else if (plan.kind === 'image') {
    containers.push({
      name: 'app',
      program: { kind: 'image', image: plan.image! },
      env: { PORT: String(ports.app), MESH_SIM_SERVICE: plan.service, MESH_SIM_VERSION: plan.version, OTEL_SERVICE_NAME: plan.service },
    });
  } else {
    throw new Error(`${plan.service} cannot run on a cluster: ${plan.kind === 'command' ? 'a command runs on this machine only; give it an image' : 'Istio brings its own gateway'}`);
  }
  return pod(plan, containers, ports, 15021);
}

/** What every pod is besides its containers: its labels, its identity, and its sidecar's readiness port. */
function pod(plan: InstancePlan, containers: ContainerSpec[], ports: PodPorts, readinessPort: number): PodSpec {
  return {
    plan,
    labels: podLabels(plan),
    serviceAccount: plan.serviceAccount,
    containers,
    ports,
    readiness: { container: 'sidecar', port: readinessPort, path: '/healthz/ready' },
  };
}

/** The labels Istio reads off a pod (src/identity/labels.ts). */
export function podLabels(plan: InstancePlan): Record<string, string> {
  return podLabelsOf(plan.service, plan.version);
}

function appContainer(plan: InstancePlan, env: MeshEnvironment, ports: PodPorts): ContainerSpec | undefined {
  const proxy = { host: '127.0.0.1', port: ports.outbound };
  switch (plan.kind) {
    case 'gateway':
      return undefined;
    case 'sample': {
      const boot: WorkloadBoot = {
        instance: plan.id,
        service: plan.service,
        version: plan.version,
        listen: { host: '127.0.0.1', port: ports.app },
        ...(plan.protocol === 'tcp' ? { protocol: 'tcp' as const } : {}),
        proxy,
        controlUrl: env.controlUrl,
        controlSecret: env.controlSecret,
        initial: env.initialWorkload(plan),
      };
      return { name: 'app', program: { kind: 'workload' }, env: { [WORKLOAD_ENV]: JSON.stringify(boot) } };
    }
    case 'command':
    case 'image': {
      const url = `http://${proxy.host}:${proxy.port}`;
      return {
        name: 'app',
        program: plan.kind === 'command' ? { kind: 'shell', command: plan.command! } : { kind: 'image', image: plan.image! },
        env: {
          PORT: String(ports.app),
          HTTP_PROXY: url,
          http_proxy: url,
          NO_PROXY: '',
          MESH_SIM_INSTANCE: plan.id,
          MESH_SIM_SERVICE: plan.service,
          MESH_SIM_VERSION: plan.version,
          ...otelEnvironment(env.controlUrl, plan, env.controlSecret),
        },
      };
    }
  }
}

/**
 * What a bring-your-own app is told, besides PORT and HTTP_PROXY: where its own
 * OpenTelemetry SDK sends spans (the collector, in the protocol it speaks), so its
 * spans join the sidecars' traces with no configuration.
 */
export function otelEnvironment(collectorUrl: string, plan: InstancePlan, secret: string): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${collectorUrl}/v1/traces`,
    // OTLP's default encoding over HTTP, which every SDK's HTTP exporter speaks (the collector reads JSON too).
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    // The OpenTelemetry spec's form: key=value pairs, values percent-encoded.
    OTEL_EXPORTER_OTLP_HEADERS: `authorization=${encodeURIComponent(authorization(secret))}`,
    OTEL_SERVICE_NAME: plan.service,
    OTEL_RESOURCE_ATTRIBUTES: `service.version=${plan.version},service.instance.id=${plan.id}`,
    OTEL_PROPAGATORS: 'tracecontext,baggage,b3',
  };
}
