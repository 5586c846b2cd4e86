// `mesh-sim proxy POD [ENDPOINT]`: asks a running mesh's sidecar for one of its admin
// pages, as `kubectl exec POD -c istio-proxy -- pilot-agent request GET ENDPOINT` does
// on a cluster: Envoy's /stats (the default), /clusters, /config_dump, /stats/prometheus.
// The mesh is the newest one running on this machine (or --run ID); POD is an instance
// (reviews-v1-0), or a service or workload whose first pod is taken, as
// `kubectl exec deploy/reviews` takes one.

import { runningMeshes, type MeshPods } from '../mesh/pod-directory.js';
import { ADMIN_ENDPOINTS } from '../sidecar/admin.js';
import { EXIT, UserError } from './exit-codes.js';
import type { Output } from './validate.js';

export interface ProxyOptions {
  run?: string;
}

function pickMesh(meshes: MeshPods[], run: string | undefined): MeshPods {
  if (meshes.length === 0) throw new UserError('no mesh is running here: start one with `mesh-sim up FILE` (or `mesh-sim run FILE`), then ask its proxies from another terminal');
  if (run === undefined) return meshes[0]!;
  const found = meshes.find((m) => m.runId === run || m.runId.startsWith(run));
  if (!found) throw new UserError(`no running mesh has run id ${run}; running: ${meshes.map((m) => `${m.runId} (${m.scenario})`).join(', ')}`);
  return found;
}

/** The pod's instance name: exact, else the first pod of a service or workload (service-version) of that name. */
function pickPod(mesh: MeshPods, pod: string): string {
  if (mesh.pods[pod]) return pod;
  const names = Object.keys(mesh.pods).sort();
  const matching = names.filter((name) => {
    const { service, version } = mesh.pods[name]!;
    return service === pod || `${service}-${version}` === pod;
  });
  if (matching.length > 0) return matching[0]!;
  throw new UserError(`no pod ${pod} in the running mesh (${mesh.scenario}); its pods: ${names.join(', ')}`);
}

export async function proxyCommand(pod: string, endpoint: string | undefined, options: ProxyOptions, output: Output): Promise<number> {
  const path = (endpoint ?? 'stats').replace(/^\/+/, '');
  if (!(ADMIN_ENDPOINTS as readonly string[]).includes(path)) {
    throw new UserError(`a proxy answers ${ADMIN_ENDPOINTS.join(', ')}; not \`${endpoint}\``);
  }
  const mesh = pickMesh(await runningMeshes(), options.run);
  if (mesh.runtime === 'docker') {
    throw new UserError(`the running mesh (${mesh.scenario}) is on the Docker runtime, where each proxy's admin port stays inside its pod; mesh-sim proxy reaches the proxies of a mesh on the process runtime (the default)`);
  }
  const instance = pickPod(mesh, pod);
  if (instance !== pod) output.err(`${pod}: asking ${instance}'s proxy`);
  let response: Response;
  try {
    response = await fetch(`${mesh.pods[instance]!.admin}/${path}`, { signal: AbortSignal.timeout(5000) });
  } catch (error) {
    throw new UserError(`${instance}'s proxy did not answer (${(error as Error).cause ? String((error as { cause: Error }).cause.message) : (error as Error).message}): is the pod up?`);
  }
  const text = await response.text();
  if (!response.ok) throw new UserError(`${instance}'s proxy answered ${response.status}: ${text.trim()}`);
  output.out(text.replace(/\n$/, ''));
  return EXIT.ok;
}
