import test from 'ava';
import Docker from 'dockerode';
import { parseAllDocuments } from 'yaml';
import { loadScenarioFile } from '../../src/scenario/load.js';
import { exportKubernetes } from '../../src/export/kubernetes.js';
import { TRAFFIC_ENV, type TrafficBoot } from '../../src/traffic/boot.js';
import { PACKAGE_ROOT } from '../../src/version.js';
import { dockerAvailable } from '../helpers/docker.js';
import { connectDocker } from '../../src/runtime/docker/client.js';
import { runCli } from '../helpers/cli.js';
import { sleep } from '../helpers/mesh.js';

// The image a cluster runs: `mesh-sim image build` makes it here, and containers of it,
// started exactly as the exported Deployment and traffic Job say, answer as a service
// does and send the scenario's traffic.

const docker = new Docker();
const here = await dockerAvailable(connectDocker(docker));
const required = process.env.MESH_SIM_REQUIRE_ALL === '1' || process.env.CI === 'true';
const run = here || required ? test.serial : test.skip;
const IMAGE = 'mesh-sim-test-export:1';
type Doc = Record<string, any>;

run('the exported workload and traffic Job run from the image mesh-sim image build makes', async (t) => {
  if (!here) return t.fail('no Docker daemon: .ci/run installs docker.io and starts dockerd');
  const build = await runCli(['image', 'build', '--tag', IMAGE], { timeoutMs: 300_000 });
  t.is(build.code, 0, build.stderr);
  t.is(build.stdout.trim(), IMAGE);

  const file = `${PACKAGE_ROOT}/scenarios/istio/request-routing.yaml`;
  const { scenario, states } = await loadScenarioFile(file);
  const files = exportKubernetes(scenario, states, { image: IMAGE, namespace: 'default', seed: 3, durationMs: 3000, file });
  const details = parseAllDocuments(files.get('10-details.yaml')!, { version: '1.1' }).map((d) => d.toJS() as Doc).find((d) => d.kind === 'Deployment')!;
  const container = details.spec.template.spec.containers[0];
  const job = parseAllDocuments(files.get('traffic/job.yaml')!, { version: '1.1' }).map((d) => d.toJS() as Doc)[0]!;
  const jobContainer = job.spec.template.spec.containers[0];

  const created: Docker.Container[] = [];
  t.teardown(async () => { for (const c of created) await c.remove({ force: true }).catch(() => {}); });
  const app = await docker.createContainer({
    Image: container.image, Cmd: container.command, WorkingDir: container.workingDir, User: '1000:1000',
    Env: container.env.map((e: Doc) => `${e.name}=${e.value}`),
    Labels: { 'mesh-sim': 'true', 'mesh-sim.run': 'export-test' },
    ExposedPorts: { '9080/tcp': {} },
    HostConfig: { ReadonlyRootfs: true, CapDrop: ['ALL'], PortBindings: { '9080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
  });
  created.push(app);
  await app.start();
  const info = await app.inspect();
  const port = Number(info.NetworkSettings.Ports['9080/tcp']![0]!.HostPort);
  let status = 0;
  for (let i = 0; i < 50 && status === 0; i++) {
    status = await fetch(`http://127.0.0.1:${port}/details/0`).then((r) => r.status, () => 0);
    if (status === 0) await sleep(100);
  }
  t.is(status, 200, 'the workload answers as details does');

  // The Job's generator, aimed at the details container instead of an ingress gateway.
  const boot = JSON.parse(jobContainer.env.find((e: Doc) => e.name === TRAFFIC_ENV).value) as TrafficBoot;
  const aimed: TrafficBoot = { ...boot, target: { host: info.NetworkSettings.Networks.bridge!.IPAddress, port: 9080 }, durationMs: 2000, flows: [{ ...boot.flows[0]!, to: 'details', path: '/details/0', rps: 20, arrival: 'uniform' }], changes: [] };
  const traffic = await docker.createContainer({
    Image: jobContainer.image, Cmd: jobContainer.command, WorkingDir: jobContainer.workingDir, User: '1000:1000',
    Env: [`${TRAFFIC_ENV}=${JSON.stringify(aimed)}`], Labels: { 'mesh-sim': 'true', 'mesh-sim.run': 'export-test' },
    HostConfig: { ReadonlyRootfs: true, CapDrop: ['ALL'] },
  });
  created.push(traffic);
  await traffic.start();
  const exit = await traffic.wait() as { StatusCode: number };
  t.is(exit.StatusCode, 0);
  const logs = (await traffic.logs({ stdout: true, stderr: false })).toString('utf8');
  const line = logs.split('\n').map((l) => l.replace(/^[\s\S]{8}/, '')).find((l) => l.startsWith('{'));
  t.truthy(line, logs);
  const report = JSON.parse(line!) as { flows: Record<string, { requests: number; statuses: Record<string, number> }> };
  const flow = Object.values(report.flows)[0]!;
  t.true(flow.requests >= 30, `sent ${flow.requests}`);
  t.deepEqual(Object.keys(flow.statuses), ['200']);
});
