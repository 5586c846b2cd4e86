// The Docker runtime for real: containers through dockerode, on a user-defined network.
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { sessionSummary, type Summary } from '../../src/mesh/summary.js';
import { MeshSession } from '../../src/mesh/session.js';
import { runtimeFactory } from '../../src/runtime/registry.js';
import type { AccessLogEntry } from '../../src/telemetry/access-log.js';
import { crashScenario, loadFile, loadText, sleep } from '../helpers/mesh.js';
import { dockerAvailable, ensureNoCmdImage, ensureUserImage } from '../helpers/docker.js';
import { connectDocker } from '../../src/runtime/docker/client.js';
import { proxyCommand } from '../../src/cli/proxy.js';
import { BREAKER } from '../helpers/scenario.js';
import { eventually, processesTagged, reaperTagged, runCli, scenarioFile, startCli } from '../helpers/cli.js';

const docker = new Docker();
const here = await dockerAvailable(connectDocker(docker));
const required = process.env.MESH_SIM_REQUIRE_ALL === '1' || process.env.CI === 'true';
const run = here || required ? test.serial : test.skip;

function needDocker(t: ExecutionContext): boolean {
  if (here) return true;
  t.fail('no Docker daemon: .ci/run installs docker.io and starts dockerd');
  return false;
}

async function containersOf(runId: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`mesh-sim.run=${runId}`] } });
}

async function runOnDocker(text: string | undefined, seconds: number, during?: (session: MeshSession) => Promise<void>): Promise<{ session: MeshSession; summary: Summary; access: AccessLogEntry[] }> {
  const loaded = text ? await loadText(text) : await loadFile('scenarios/bookinfo.yaml');
  const session = new MeshSession(text ? loaded : { ...loaded, scenario: { ...loaded.scenario, timeline: [], checks: [] } }, { runtimeFactory: runtimeFactory('docker'), seed: 42 });
  const access: AccessLogEntry[] = [];
  session.on('log', (record) => record.kind === 'access' && access.push(record.entry));
  try {
    await session.start();
    session.beginTraffic(seconds * 1000);
    await Promise.all([sleep(seconds * 1000), during?.(session)]);
    await session.finish();
  } finally {
    await session.shutdown();
  }
  const summary = sessionSummary(session);
  return { session, summary, access };
}

run('Bookinfo on containers gives the same shape of summary as on processes, then leaves nothing behind', async (t) => {
  if (!needDocker(t)) return;
  let observed: { containers: Docker.ContainerInfo[]; prometheusTargets: number; queryOk: boolean } | undefined;
  const { session, summary, access } = await runOnDocker(undefined, 25, async (s) => {
    const observability = await s.startObservability();
    const containers = await containersOf(s.runId);
    let prometheusTargets = 0;
    let queryOk = false;
    if (observability.prometheus) {
      // DNS discovery and the first scrape of each target take up to two 5 s intervals.
      for (let i = 0; i < 40 && prometheusTargets < 7; i++) {
        await sleep(500);
        const targets = (await (await fetch(`${observability.prometheus}/api/v1/targets`)).json()) as { data: { activeTargets: Array<{ health: string }> } };
        prometheusTargets = targets.data.activeTargets.filter((x) => x.health === 'up').length;
      }
      // A rate needs two scrapes of each series: up to two more 5 s intervals.
      for (let i = 0; i < 40 && !queryOk; i++) {
        await sleep(500);
        const answer = (await (await fetch(`${observability.prometheus}/api/v1/query?${new URLSearchParams({ query: 'sum(rate(istio_requests_total{reporter="destination"}[20s])) by (destination_service)' })}`)).json()) as { data: { result: unknown[] } };
        queryOk = answer.data.result.length === 4;
      }
    }
    observed = { containers, prometheusTargets, queryOk };
  });
  const answered = summary.traffic.answered;
  t.true(answered > 100, `${answered} requests`);
  t.deepEqual(Object.keys(summary.services).sort(), ['details', 'productpage', 'ratings', 'reviews']);
  t.is(summary.services.productpage!.requests, answered);
  t.deepEqual(Object.keys(summary.services.reviews!.versions).sort(), ['v1', 'v2', 'v3']);
  t.true(Object.values(summary.services.reviews!.versions).every((n) => n > 0));
  t.deepEqual(summary.traces, { count: answered, complete: answered, maxDepth: 3 });
  t.deepEqual(summary.edges.map((e) => `${e.source}→${e.destination}`), ['istio-ingressgateway→productpage', 'productpage→details', 'productpage→reviews', 'reviews→ratings']);
  // In the pod's shared network namespace, the sidecar reaches its app from Istio's 127.0.0.6.
  const inboundLines = access.filter((e) => e.reporter === 'destination' && e.upstream_host !== null);
  t.true(inboundLines.length > 0 && inboundLines.every((e) => /^127\.0\.0\.6:\d+$/.test(e.upstream_local_address ?? '')), 'inbound upstream_local_address is 127.0.0.6');

  // What ran: pods of two containers sharing a network namespace, labelled, unprivileged.
  const containers = observed!.containers;
  const byRole = (role: string) => containers.filter((c) => c.Labels['mesh-sim.role'] === role);
  t.is(byRole('app').length, 6);
  t.is(byRole('sidecar').length, 6);
  t.is(byRole('gateway').length, 1);
  t.is(byRole('prometheus').length, 1, 'Prometheus beside the mesh (pulled, or built from the local binary)');
  for (const info of containers) {
    const c = await docker.getContainer(info.Id).inspect().catch(() => undefined);
    if (!c) continue;
    t.false(c.HostConfig.Privileged, `${info.Names[0]} is not privileged`);
    t.true(c.HostConfig.CapDrop?.includes('ALL') ?? false, `${info.Names[0]} drops every capability`);
    for (const bindings of Object.values(c.HostConfig.PortBindings ?? {})) {
      for (const binding of (bindings as Array<{ HostIp: string }>) ?? []) t.is(binding.HostIp, '127.0.0.1', `${info.Names[0]} publishes on loopback only`);
    }
    const role = info.Labels['mesh-sim.role'];
    if (role === 'sidecar') {
      t.regex(c.HostConfig.NetworkMode ?? '', /^container:[0-9a-f]{64}$/, 'the sidecar shares its app\'s network namespace');
      t.true(c.HostConfig.ReadonlyRootfs ?? false);
      t.is(c.Config.User, '1000:1000');
    }
    for (const label of ['mesh-sim', 'mesh-sim.run', 'mesh-sim.owner', 'mesh-sim.role']) t.truthy(info.Labels[label], `${info.Names[0]} has ${label}`);
  }
  t.is(observed!.prometheusTargets, 7, 'Prometheus scrapes every sidecar, found by DNS');
  t.true(observed!.queryOk, 'a PromQL query over Istio metrics answers for each service');

  t.deepEqual(await containersOf(session.runId), [], 'no container of the run remains');
  t.deepEqual(await docker.listNetworks({ filters: { label: [`mesh-sim.run=${session.runId}`] } }), [], 'nor its network');
});

run('kill stops the containers for real and restart starts them again', async (t) => {
  if (!needDocker(t)) return;
  const states: Array<[string, boolean]> = [];
  const { session, access } = await runOnDocker(crashScenario(40, '2s', '6s'), 10, async (s) => {
    const stateOf = async () => {
      const [app] = (await containersOf(s.runId)).filter((c) => c.Labels['mesh-sim.instance'] === 'api-v1-0' && c.Labels['mesh-sim.role'] === 'app');
      return app?.State === 'running';
    };
    await sleep(1000);
    states.push(['before', await stateOf()]);
    await sleep(3000);
    states.push(['killed', await stateOf()]);
    await sleep(4500);
    states.push(['restarted', await stateOf()]);
  });
  t.deepEqual(states, [['before', true], ['killed', false], ['restarted', true]]);
  const calls = access.filter((e) => e.reporter === 'source' && e.destination_service === 'api').sort((a, b) => a.start_time.localeCompare(b.start_time));
  t.true(calls.some((e) => e.response_flags.includes('UF') || e.response_flags.includes('UH')), 'callers saw the crash');
  t.true(calls.slice(-20).every((e) => e.response_code === 200), 'and the recovery');
  t.deepEqual(await containersOf(session.runId), []);
});

run('a service with its own image runs with the sidecar injected, PORT and HTTP_PROXY set', async (t) => {
  if (!needDocker(t)) return;
  const image = await ensureUserImage(connectDocker(docker));
  const { summary } = await runOnDocker(`
name: byo
services:
  mine:
    port: 8080
    image: ${image}
  details:
    port: 9080
traffic:
  - {to: mine, rps: 20, arrival: uniform}
`, 5);
  t.true(summary.services.mine!.requests > 50);
  t.is(summary.services.mine!.errors, 0);
  t.is(summary.services.details!.requests, summary.services.mine!.requests, "the app's calls went through its sidecar (HTTP_PROXY)");
  t.true(summary.edges.some((e) => e.source === 'mine' && e.destination === 'details'));
  t.true(summary.traces.complete > 0, 'its trace context carried through (it copies traceparent)');
});

/** Starts Bookinfo on Docker under `mesh-sim run`, waits for its traffic, and hands back the run. */
async function runningBookinfo(t: ExecutionContext, tag: string): Promise<{ child: import('node:child_process').ChildProcess; result: Promise<unknown>; runId: string }> {
  const { child, result } = startCli(['run', 'scenarios/bookinfo.yaml', '--runtime', 'docker', '--duration', '1m'], { MESH_SIM_TEST_TAG: tag });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 300 && !/traffic: visitors/.test(stderr); i++) await sleep(100);
  const runId = /network (mesh-sim-\S+);/.exec(stderr)?.[1]?.replace(/^mesh-sim-/, '');
  t.truthy(runId, stderr);
  t.true((await containersOf(runId!)).length >= 13, 'the mesh was running');
  return { child, result, runId: runId! };
}

run("after mesh-sim is killed with SIGKILL, its reaper removes the run's containers and network, with no `down`", async (t) => {
  if (!needDocker(t)) return;
  const { child, result, runId } = await runningBookinfo(t, randomUUID());
  child.kill('SIGKILL');
  await result;
  t.true(await eventually(async () => (await containersOf(runId)).length === 0, 30_000), 'containers gone');
  t.true(await eventually(async () => (await docker.listNetworks({ filters: { label: [`mesh-sim.run=${runId}`] } })).length === 0, 10_000), 'network gone');
});

run('after mesh-sim and its reaper are both killed, `mesh-sim down` removes what they left', async (t) => {
  if (!needDocker(t)) return;
  const tag = randomUUID();
  const { child, result, runId } = await runningBookinfo(t, tag);
  const reaper = await reaperTagged(tag);
  t.truthy(reaper, 'the run has a reaper');
  process.kill(reaper!, 'SIGKILL');
  child.kill('SIGKILL');
  await result;
  await sleep(1000);
  t.true((await containersOf(runId)).length >= 13, 'nothing cleaned up after them');
  const down = await runCli(['down']);
  t.is(down.code, 0, down.stderr);
  t.regex(down.stdout, /^removed .*1[34] containers and 1 network of 1 run on Docker/);
  t.deepEqual(await containersOf(runId), []);
  t.deepEqual(await docker.listNetworks({ filters: { label: [`mesh-sim.run=${runId}`] } }), []);
});

run('a service whose image cannot start stops the whole mesh within bounds, leaving nothing behind', async (t) => {
  if (!needDocker(t)) return;
  const image = await ensureNoCmdImage(connectDocker(docker));
  const file = await scenarioFile(`
name: no-cmd
services:
  a: {calls: [b]}
  b: {image: "${image}"}
  c: {}
  d: {}
traffic: [{to: a, rps: 5}]
`);
  const tag = randomUUID();
  for (let i = 0; i < 3; i++) {
    const before = new Set((await docker.listContainers({ all: true, filters: { label: ['mesh-sim'] } })).map((c) => c.Id));
    const result = await runCli(['run', file, '--runtime', 'docker', '--duration', '5s'], { env: { MESH_SIM_TEST_TAG: tag }, timeoutMs: 90_000 });
    t.is(result.code, 2, result.stderr);
    t.regex(result.stderr, /cannot start b-v1-0 on Docker: No command specified/);
    t.regex(result.stderr, /everything it started has been stopped/);
    const left = (await docker.listContainers({ all: true, filters: { label: ['mesh-sim'] } })).filter((c) => !before.has(c.Id));
    t.deepEqual(left.map((c) => c.Names[0]), [], `attempt ${i + 1}: no container left`);
    t.true(await eventually(async () => (await processesTagged(tag)).length === 0, 5000), `attempt ${i + 1}: no process left (mesh-sim exited, its reaper too)`);
  }
});

test('without a Docker daemon, --runtime docker says how to fix it in one line and exits 2', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-sim-nodocker-'));
  const result = await runCli(['run', 'scenarios/bookinfo.yaml', '--runtime', 'docker', '--duration', '2s'], { env: { DOCKER_HOST: `unix://${join(dir, 'no.sock')}` } });
  t.is(result.code, 2);
  const lines = result.stderr.trim().split('\n').filter((l) => l.startsWith('mesh-sim:'));
  t.is(lines.length, 1, result.stderr);
  t.regex(lines[0]!, /^mesh-sim: cannot reach the Docker daemon at unix:\/\/.*no\.sock \(.+\): start it .*, or use --runtime process$/);
  t.notRegex(result.stderr, /\n\s+at /, 'no stack trace');
});

run("on Docker, mesh-sim proxy asks a sidecar's admin listener from inside its container, as kubectl exec does", async (t) => {
  if (!needDocker(t)) return;
  const out: string[] = [];
  const err: string[] = [];
  const output = { out: (s: string) => out.push(s), err: (s: string) => err.push(s) };
  await runOnDocker(BREAKER, 6, async () => {
    await sleep(4000);
    t.is(await proxyCommand('istio-ingressgateway', 'stats', {}, output), 0);
    t.is(await proxyCommand('httpbin', 'healthz/ready', {}, output), 0);
  });
  const stats = out[0]!.split('\n');
  const overflow = Number(/httpbin\.default\.svc\.cluster\.local\.upstream_rq_pending_overflow: (\d+)/.exec(out[0]!)?.[1]);
  t.true(overflow > 0, out[0]);
  t.true(stats.every((l) => /^cluster\.\S+: \d+$/.test(l)));
  t.is(out[1], 'LIVE');
  t.deepEqual(err, ["httpbin: asking httpbin-v1-0's proxy"]);
});
