// How a sidecar process is told who it is and where to listen: one JSON environment
// variable, the same on every runtime.

import { readBootEnv } from '../runtime/boot-env.js';

/**
 * `sidecar`: a pod's proxy; `gateway`: the ingress gateway; `none`: a pod outside the mesh,
 * where a plain pass-through stands in for the pod's network and kube-proxy (no TLS, no
 * policy, no telemetry of its own).
 */
export type SidecarMode = 'sidecar' | 'gateway' | 'none';

export interface SidecarBoot {
  /** Pod-like instance name: `reviews-v2-0`, or `istio-ingressgateway`. */
  instance: string;
  service: string;
  version: string;
  namespace: string;
  /** Istio's workload name (the Deployment): `reviews-v2`. */
  workload: string;
  /** The service's port in the mesh (what callers write in the authority). */
  servicePort: number;
  /** The service account the pod runs as: the identity its certificate names. */
  serviceAccount?: string;
  /** tcp: the inbound side proxies connections to the app as they are, with no HTTP in between. */
  protocol?: 'http' | 'tcp';
  mode: SidecarMode;
  listen: {
    host: string;
    /** Where callers reach the service through this sidecar (sidecar mode). */
    inbound: number;
    /** Where the app sends its calls (HTTP_PROXY); in gateway mode, the traffic's way in. */
    outbound: number;
    /** /stats/prometheus, /healthz/ready, /config_dump, /clusters. */
    admin: number;
    /** The outbound listener's host when it differs: in a pod only the app calls out through it. */
    outboundHost?: string;
  };
  /** Where the app listens, in the same pod (sidecar mode). */
  app: { host: string; port: number } | undefined;
  /** The control plane and collector: polls go to /v1/sidecar/..., spans to /v1/traces. */
  controlUrl: string;
  /** The run's secret, which every request to the control plane and collector carries. */
  controlSecret: string;
}

export const SIDECAR_ENV = 'MESH_SIM_SIDECAR';

export function readSidecarBoot(env: NodeJS.ProcessEnv): SidecarBoot {
  return readBootEnv<SidecarBoot>(env, SIDECAR_ENV);
}
