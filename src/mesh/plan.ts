// Which instances a scenario runs: one per service, version and replica (named like
// pods: reviews-v2-0), plus the ingress gateway where traffic enters.

import type { Scenario } from '../scenario/model.js';
import type { InstancePlan } from '../runtime/runtime.js';
import { DEFAULT_PORT } from '../control/plane.js';
import { GATEWAY } from '../control/protocol.js';
import { GATEWAY_SERVICE_ACCOUNT } from '../identity/spiffe.js';

export function planInstances(scenario: Pick<Scenario, 'services'>): InstancePlan[] {
  const plans: InstancePlan[] = [];
  for (const service of scenario.services) {
    for (const version of service.versions) {
      for (let replica = 0; replica < version.replicas; replica++) {
        plans.push({
          id: `${service.name}-${version.name}-${replica}`,
          service: service.name,
          version: version.name,
          replica,
          workload: `${service.name}-${version.name}`,
          kind: version.command !== undefined ? 'command' : version.image !== undefined ? 'image' : 'sample',
          command: version.command,
          image: version.image,
          servicePort: service.port ?? DEFAULT_PORT,
          sidecar: service.sidecar,
          protocol: service.protocol,
          serviceAccount: service.serviceAccount,
        });
      }
    }
  }
  return plans;
}

export function gatewayPlan(): InstancePlan {
  return {
    id: GATEWAY.name,
    service: GATEWAY.name,
    version: 'unknown',
    replica: 0,
    workload: GATEWAY.name,
    kind: 'gateway',
    command: undefined,
    image: undefined,
    servicePort: 80,
    sidecar: true,
    protocol: 'http',
    serviceAccount: GATEWAY_SERVICE_ACCOUNT,
  };
}

/** Instances a timeline kill or restart names: a service, one version, or one replica. */
export function matchInstances(plans: InstancePlan[], target: { service: string; version: string | undefined; replica: number | undefined }): InstancePlan[] {
  return plans.filter((p) => p.kind !== 'gateway' && p.service === target.service
    && (target.version === undefined || p.version === target.version)
    && (target.replica === undefined || p.replica === target.replica));
}
