// `mesh-sim proxy POD [ENDPOINT]`: asks a running mesh's sidecar for one of its admin
// pages, as `kubectl exec POD -c istio-proxy -- pilot-agent request GET ENDPOINT` does
// on a cluster: Envoy's /stats (the default), /clusters, /config_dump, /stats/prometheus.
// The mesh is the newest one running on this machine (or --run ID); POD is an instance
// (reviews-v1-0), or a service or workload whose first pod is taken, as
// `kubectl exec deploy/reviews` takes one. On Docker, where a pod's admin listener is on
// its own loopback, the request is made from inside the sidecar's container.

import { runningMeshes, type MeshPods } from '../mesh/pod-directory.js';
import { ADMIN_ENDPOINTS } from '../sidecar/admin.js';
import { EXIT, UserError } from './exit-codes.js';
import { connectDocker, dockerError } from '../runtime/docker/client.js';
import { NODE_IN_IMAGE } from '../runtime/docker/images.js';
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
  const instance = pickPod(mesh, pod);
  if (instance !== pod) output.err(`${pod}: asking ${instance}'s proxy`);
  const entry = mesh.pods[instance]!;
  const url = `${entry.admin}/${path}`;
  const { ok, status, text } = entry.container ? await insidePod(instance, entry.container, url) : await fromHere(instance, url);
  if (!ok) throw new UserError(`${instance}'s proxy answered ${status}: ${text.trim()}`);
  output.out(text.replace(/\n$/, ''));
  return EXIT.ok;
}

interface Answer {
  ok: boolean;
  status: number;
  text: string;
}

/** The process runtime: the admin listener is on this machine's loopback. */
async function fromHere(instance: string, url: string): Promise<Answer> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return { ok: response.ok, status: response.status, text: await response.text() };
  } catch (error) {
    const cause = (error as { cause?: Error }).cause;
    throw new UserError(`${instance}'s proxy did not answer (${cause?.message ?? (error as Error).message}): is the pod up?`);
  }
}

/**
 * Docker: the admin listener is on the pod's own loopback, so the request is made from
 * inside the sidecar's container with the node that runs it, as `kubectl exec POD -c
 * istio-proxy -- pilot-agent request GET stats` does. It prints the status, then the body.
 */
async function insidePod(instance: string, container: string, url: string): Promise<Answer> {
  const script = `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(5000) })`
    + `.then(async (r) => process.stdout.write(r.status + '\\n' + await r.text()), (e) => { process.stderr.write(String(e.cause?.message ?? e.message)); process.exitCode = 1; })`;
  let result;
  try {
    result = await connectDocker().containers.exec(container, [NODE_IN_IMAGE, '-e', script]);
  } catch (error) {
    throw new UserError(`cannot reach ${instance}'s sidecar container through Docker (${dockerError(error)}): is the pod up?`);
  }
  if (result.code !== 0) throw new UserError(`${instance}'s proxy did not answer (${result.stderr.trim() || `exit ${result.code}`}): is the pod up?`);
  const newline = result.stdout.indexOf('\n');
  const status = Number(result.stdout.slice(0, newline));
  return { ok: status >= 200 && status < 300, status, text: result.stdout.slice(newline + 1) };
}
