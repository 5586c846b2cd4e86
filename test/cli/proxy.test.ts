// `mesh-sim proxy POD stats` asks a running mesh's sidecar for Envoy's /stats, as
// `pilot-agent request GET stats` does: Istio's Circuit Breaking task reads the same
// lines with `grep pending`. A mesh that stops takes its pods off the list.
import test from 'ava';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadText, sleep, startMesh } from '../helpers/mesh.js';
import { runCli } from '../helpers/cli.js';
import { BREAKER } from '../helpers/scenario.js';
import { proxyCommand } from '../../src/cli/proxy.js';
import { runningMeshes } from '../../src/mesh/pod-directory.js';
import { UserError } from '../../src/cli/exit-codes.js';


function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, output: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
}

test.serial("a running mesh's proxies answer Envoy's /stats: the circuit breaker's pending lines count the overflow", async (t) => {
  const mesh = await startMesh(await loadText(BREAKER));
  const { session } = mesh;
  try {
    session.beginTraffic();
    for (let i = 0; i < 100 && !mesh.access.some((e) => e.response_flags === 'UO'); i++) await sleep(50);
    await sleep(1500);
    // The directory is written a moment after pods come: the gateway and httpbin are listed.
    const meshes = await runningMeshes();
    t.is(meshes[0]?.runId, session.runId);
    t.deepEqual(Object.keys(meshes[0]!.pods).sort(), ['httpbin-v1-0', 'istio-ingressgateway']);

    const { out, output } = capture();
    t.is(await proxyCommand('istio-ingressgateway', 'stats', {}, output), 0);
    const lines = out.join('\n').split('\n');
    const pending = lines.filter((l) => l.includes('httpbin') && l.includes('pending'));
    const cluster = 'cluster.outbound|8000||httpbin.default.svc.cluster.local';
    t.true(pending.includes(`${cluster}.circuit_breakers.default.remaining_pending: ${1 - Number(/upstream_rq_pending_active: (\d+)/.exec(pending.join('\n'))![1])}`), pending.join('\n'));
    const overflow = Number(new RegExp(`^${cluster.replace(/[|.]/g, '\\$&')}\\.upstream_rq_pending_overflow: (\\d+)$`, 'm').exec(lines.join('\n'))?.[1]);
    const refused = mesh.access.filter((e) => e.response_flags === 'UO' && e.reporter === 'source').length;
    t.true(overflow > 0 && overflow >= refused, `overflow ${overflow}, UO lines ${refused}`);
    t.deepEqual([...lines].sort(), lines, "sorted, as Envoy's /stats prints them");
    t.true(lines.every((l) => /^cluster\.\S+: \d+$/.test(l)), lines.find((l) => !/^cluster\.\S+: \d+$/.test(l)));

    // A service's name takes its first pod; other pages come through as they are.
    const clusters = capture();
    t.is(await proxyCommand('httpbin', 'clusters', {}, clusters.output), 0);
    t.deepEqual(clusters.err, ["httpbin: asking httpbin-v1-0's proxy"]);
    t.true(Array.isArray(JSON.parse(clusters.out.join('\n'))));
    await t.throwsAsync(proxyCommand('fortio', 'stats', {}, capture().output), { instanceOf: UserError, message: /no pod fortio in the running mesh \(breaker\); its pods: httpbin-v1-0, istio-ingressgateway/ });
    await t.throwsAsync(proxyCommand('httpbin', 'logging', {}, capture().output), { instanceOf: UserError, message: /a proxy answers stats, stats\/prometheus, clusters, config_dump, healthz\/ready; not `logging`/ });
  } finally {
    await session.finish(0);
  }
  t.false((await runningMeshes()).some((m) => m.runId === session.runId), 'a stopped mesh is off the list');
});

test.serial('with no mesh running, proxy says how to start one and exits 2', async (t) => {
  // A state directory of its own: whatever else runs on this machine is not seen.
  const result = await runCli(['proxy', 'productpage'], { env: { MESH_SIM_STATE_DIR: await mkdtemp(join(tmpdir(), 'mesh-sim-state-')) } });
  t.is(result.code, 2);
  t.regex(result.stderr, /no mesh is running here: start one with `mesh-sim up FILE`/);
});
