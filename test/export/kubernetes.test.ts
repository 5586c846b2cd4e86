import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { loadScenarioFile } from '../../src/scenario/load.js';
import { exportKubernetes, type ExportedFiles } from '../../src/export/kubernetes.js';
import { WORKLOAD_ENV, type WorkloadBoot } from '../../src/workload/boot.js';
import { TRAFFIC_ENV, type TrafficBoot } from '../../src/traffic/boot.js';
import { PACKAGE_ROOT } from '../../src/version.js';
import { validateObject } from '../helpers/kube-validate.js';
import { runCli, scenarioFile } from '../helpers/cli.js';

// Taking a scenario to a cluster: what `mesh-sim export --kubernetes` writes is what a
// cluster with Istio takes, checked against the real schemas, and what Istio needs of it
// (subsets that select pods, ports named for their protocol) holds.

const run = promisify(execFile);
type Doc = Record<string, any>;

const shipped = async (): Promise<string[]> => {
  const out: string[] = [];
  for (const dir of ['scenarios', 'scenarios/istio']) {
    for (const f of await readdir(join(PACKAGE_ROOT, dir))) if (f.endsWith('.yaml')) out.push(join(PACKAGE_ROOT, dir, f));
  }
  return out;
};

async function exported(file: string): Promise<ExportedFiles> {
  const { scenario, states } = await loadScenarioFile(file);
  return exportKubernetes(scenario, states, { image: 'mesh-sim:test', namespace: 'default', seed: 7, durationMs: scenario.durationMs ?? 60_000, file });
}

function documents(text: string): Doc[] {
  return parseAllDocuments(text, { version: '1.1' }).map((d) => d.toJS() as Doc).filter((d) => d && typeof d === 'object');
}

function allObjects(files: ExportedFiles): Doc[] {
  return [...files].filter(([path]) => path.endsWith('.yaml')).flatMap(([, text]) => documents(text));
}

test('every shipped scenario exports, and every object validates against the Kubernetes and Istio schemas', async (t) => {
  const files = await shipped();
  t.true(files.length >= 10);
  for (const file of files) {
    // A flow to a tcp service cannot leave this machine yet: refused with the reason, before anything is written.
    if (file.endsWith('tcp-traffic-shifting.yaml')) {
      await t.throwsAsync(exported(file), { message: /traffic nc goes to a tcp service, which a cluster's traffic Job cannot reach yet/ });
      continue;
    }
    const objects = allObjects(await exported(file));
    t.true(objects.length > 0, file);
    for (const object of objects) t.notThrows(() => validateObject(object), `${file}: ${object.kind} ${object.metadata?.name}`);
  }
});

test('a tcp service exports with its port named tcp, so Istio proxies it as TCP', async (t) => {
  const file = join(PACKAGE_ROOT, 'scenarios/istio/tcp-traffic-shifting.yaml');
  const { scenario, states } = await loadScenarioFile(file);
  const objects = allObjects(exportKubernetes({ ...scenario, traffic: [] }, states, { image: 'mesh-sim:test', namespace: 'default', seed: 7, durationMs: 10_000, file }));
  const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'tcp-echo')!;
  t.deepEqual(service.spec.ports, [{ name: 'tcp', port: 9000, targetPort: 9000, appProtocol: 'tcp' }]);
  for (const object of objects) t.notThrows(() => validateObject(object), `${object.kind} ${object.metadata?.name}`);
  const vs = objects.find((o) => o.kind === 'VirtualService' && o.metadata.name === 'tcp-echo')!;
  t.is(vs.spec.tcp[0].route[0].destination.subset, 'v1', 'the tcp route, unchanged');
});

test('the schemas are really checked: a malformed Deployment or VirtualService is refused', (t) => {
  t.throws(() => validateObject({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { replicas: 1 } }), { message: /selector|template/ });
  t.throws(() => validateObject({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'x' }, spec: { hosts: 'reviews' } }), { message: /hosts/ });
  t.throws(() => validateObject({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: { ports: [{ port: 'http' }] } }), { message: /port/ });
});

test("Bookinfo's objects are what Istio needs: named http ports, app/version labels that every subset selects", async (t) => {
  const files = await exported(join(PACKAGE_ROOT, 'scenarios/istio/request-routing.yaml'));
  const objects = allObjects(files);
  const namespace = objects.find((o) => o.kind === 'Namespace')!;
  t.is(namespace.metadata.labels['istio-injection'], 'enabled');
  const services = objects.filter((o) => o.kind === 'Service');
  t.deepEqual(services.map((s) => s.metadata.name).sort(), ['details', 'productpage', 'ratings', 'reviews']);
  for (const s of services) {
    t.is(s.spec.ports[0].name, 'http', `${s.metadata.name}'s port is named for its protocol`);
    t.deepEqual(s.spec.selector, { app: s.metadata.name });
  }
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  t.deepEqual(deployments.map((d) => d.metadata.name).sort(), ['details-v1', 'productpage-v1', 'ratings-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3']);
  for (const d of deployments) {
    const labels = d.spec.template.metadata.labels;
    t.truthy(labels.app && labels.version);
    t.like(d.spec.selector.matchLabels, { app: labels.app, version: labels.version });
    t.is(d.spec.template.spec.serviceAccountName, labels.app);
    t.true(objects.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === labels.app));
    const boot = JSON.parse(d.spec.template.spec.containers[0].env.find((e: Doc) => e.name === WORKLOAD_ENV).value) as WorkloadBoot;
    t.is(boot.proxy, undefined, "on a cluster the app calls services by name; Istio's Envoy intercepts");
    t.is(boot.listen.host, '0.0.0.0', 'Envoy forwards inbound traffic to the pod address');
    t.is(boot.controlUrl, undefined);
  }
  // Every subset a route sends traffic to selects the pods of some Deployment (Istio's
  // destination-rule-all.yaml also names subsets Bookinfo does not deploy, as here).
  const rules = objects.filter((o) => o.kind === 'DestinationRule');
  const routed = objects.filter((o) => o.kind === 'VirtualService').flatMap((vs) => (vs.spec.http ?? []).flatMap((h: Doc) => h.route ?? []).map((r: Doc) => r.destination as Doc));
  t.true(routed.some((d) => d.subset), 'routes name subsets');
  for (const destination of routed.filter((d) => d.subset)) {
    const host = String(destination.host).split('.')[0];
    const subset = rules.find((r) => String(r.spec.host).split('.')[0] === host)?.spec.subsets.find((x: Doc) => x.name === destination.subset);
    t.truthy(subset, `${host} has subset ${destination.subset}`);
    const selected = deployments.filter((d) => d.spec.template.metadata.labels.app === host
      && Object.entries(subset.labels as Record<string, string>).every(([k, v]) => d.spec.template.metadata.labels[k] === v));
    t.true(selected.length > 0, `${host} subset ${destination.subset} selects pods`);
  }
});

test("the scenario's Istio resources go to the cluster unchanged, in its namespace", async (t) => {
  const file = join(PACKAGE_ROOT, 'scenarios/istio/fault-injection.yaml');
  const { scenario } = await loadScenarioFile(file);
  const files = await exported(file);
  const istio = documents(files.get('20-istio.yaml')!);
  t.is(istio.length, scenario.istio.length);
  for (const [i, r] of scenario.istio.entries()) {
    t.is(istio[i]!.kind, r.kind);
    t.is(istio[i]!.metadata.name, r.name);
    t.deepEqual(istio[i]!.spec, (r.raw as { spec: unknown }).spec);
  }
});

test('the traffic Job runs the generator against the ingress gateway, outside the mesh, with the flows and timeline changes', async (t) => {
  const files = await exported(join(PACKAGE_ROOT, 'scenarios/canary.yaml'));
  const [job] = documents(files.get('traffic/job.yaml')!);
  t.is(job!.kind, 'Job');
  t.is(job!.spec.template.metadata.annotations['sidecar.istio.io/inject'], 'false');
  t.is(job!.spec.template.spec.restartPolicy, 'Never');
  const boot = JSON.parse(job!.spec.template.spec.containers[0].env.find((e: Doc) => e.name === TRAFFIC_ENV).value) as TrafficBoot;
  t.deepEqual(boot.target, { host: 'istio-ingressgateway.istio-system.svc.cluster.local', port: 80 });
  t.is(boot.seed, 7);
  t.true(boot.flows.length > 0);
  const gateway = documents(files.get('30-gateway.yaml')!);
  t.deepEqual(gateway.map((g) => g.kind), ['Gateway', 'VirtualService']);
  t.deepEqual(gateway[1]!.spec.gateways, ['mesh-sim-gateway']);
});

test('timeline.sh is valid sh, applies each change at its time, scales for kill and restart, and echoes the narration', async (t) => {
  const files = await exported(join(PACKAGE_ROOT, 'scenarios/bookinfo.yaml'));
  const dir = await mkdtemp(join(tmpdir(), 'mesh-sim-export-'));
  const script = join(dir, 'timeline.sh');
  await writeFile(script, files.get('timeline.sh')!);
  await run('sh', ['-n', script]);
  const text = files.get('timeline.sh')!;
  t.regex(text, /kubectl -n "\$NS" apply -f traffic\/job\.yaml/);
  t.regex(text, /at 20 # 20s\necho '\[20s\] Request routing/);
  t.regex(text, /kubectl -n "\$NS" apply -f timeline\/01-istio\.yaml/);
  t.regex(text, /scale deployment\/ratings-v1 --replicas=0/);
  t.regex(text, /scale deployment\/ratings-v1 --replicas=1/);
  t.regex(text, /check: requests\(ratings\) < 1/);
  for (const path of [...files.keys()].filter((p) => p.startsWith('timeline/'))) t.true(text.includes(path), `${path} is applied`);
});

test('mesh-sim export writes the directory, refuses a non-empty one without --force, and a command it cannot take', async (t) => {
  const dir = join(await mkdtemp(join(tmpdir(), 'mesh-sim-export-')), 'out');
  const first = await runCli(['export', 'scenarios/bookinfo.yaml', '--kubernetes', dir]);
  t.is(first.code, 0, first.stderr);
  const written = await readdir(dir);
  t.true(['00-namespace.yaml', '10-reviews.yaml', '20-istio.yaml', '30-gateway.yaml', 'README.md', 'timeline.sh', 'traffic'].every((f) => written.includes(f)));
  t.regex(await readFile(join(dir, 'README.md'), 'utf8'), /What a cluster does differently/);
  const again = await runCli(['export', 'scenarios/bookinfo.yaml', '--kubernetes', dir]);
  t.is(again.code, 2);
  t.regex(again.stderr, /is not empty: name a new directory, or add --force/);
  t.is((await runCli(['export', 'scenarios/bookinfo.yaml', '--kubernetes', dir, '--force'])).code, 0);
  const mine = await scenarioFile('name: mine\nservices:\n  web: {calls: [api]}\n  api: {command: "node app.js"}\n');
  const refused = await runCli(['export', mine, '--kubernetes', join(dir, 'x')]);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /api v1 runs a `command`, which only this machine can run: give it an `image`/);
  const noTarget = await runCli(['export', 'scenarios/bookinfo.yaml']);
  t.is(noTarget.code, 2);
  t.regex(noTarget.stderr, /--kubernetes DIR/);
  await mkdir(join(dir, 'y'));
  // A directory that cannot be made is bad input, said at once: under a file, and where the
  // file system answers ENOENT under a parent that exists (Node's own recursive mkdir loops there).
  const underFile = await runCli(['export', 'scenarios/bookinfo.yaml', '--kubernetes', join(dir, 'README.md', 'out')]);
  t.is(underFile.code, 2);
  t.regex(underFile.stderr, /README\.md\/out cannot be made: a part of its path is a file/);
  t.regex((await runCli(['export', 'scenarios/bookinfo.yaml', '--kubernetes', join(dir, 'README.md')])).stderr, /README\.md is a file, not a directory/);
  const proc = await runCli(['export', 'scenarios/bookinfo.yaml', '--kubernetes', '/proc/mesh-sim-cannot-be-here/out'], { timeoutMs: 20_000 });
  t.is(proc.code, 2);
  t.regex(proc.stderr, /cannot write \/proc\/mesh-sim-cannot-be-here\/out: ENOENT/);
});

test('security policies export as Istio takes them: mesh-wide ones stay in istio-system, principals move to the export\'s namespace, a pod outside the mesh is not injected', async (t) => {
  const migration = join(PACKAGE_ROOT, 'scenarios/istio/mtls-migration.yaml');
  const loaded = await loadScenarioFile(migration);
  const files = await exportKubernetes(loaded.scenario, loaded.states, { image: 'mesh-sim:test', namespace: 'shop', seed: 7, durationMs: 60_000, file: migration });
  const legacy = allObjects(files).find((d) => d.kind === 'Deployment' && d.metadata.name === 'sleep-legacy-v1')!;
  t.deepEqual(legacy.spec.template.metadata.annotations, { 'sidecar.istio.io/inject': 'false' });
  t.is(allObjects(files).find((d) => d.kind === 'Deployment' && d.metadata.name === 'sleep-v1')!.spec.template.metadata.annotations, undefined);
  const applied = [...files].filter(([path]) => path.startsWith('timeline/')).flatMap(([, text]) => documents(text)).filter((d) => d.kind === 'PeerAuthentication');
  t.deepEqual(applied.map((d) => d.metadata.namespace).sort(), ['istio-system', 'shop']);
  t.regex(files.get('timeline.sh')!, /kubectl -n istio-system delete peerauthentication\.security\.istio\.io 'default'|kubectl -n istio-system delete peerauthentication\.security\.istio\.io default/);

  const authz = join(PACKAGE_ROOT, 'scenarios/istio/authorization.yaml');
  const a = await loadScenarioFile(authz);
  const out = await exportKubernetes(a.scenario, a.states, { image: 'mesh-sim:test', namespace: 'shop', seed: 7, durationMs: 60_000, file: authz });
  const viewers = [...out].filter(([path]) => path.startsWith('timeline/')).flatMap(([, text]) => documents(text)).filter((d) => d.metadata.name === 'details-viewer');
  t.deepEqual(viewers[0]!.spec.rules[0].from[0].source.principals, ['cluster.local/ns/shop/sa/bookinfo-productpage']);
  // Each pod runs as its Bookinfo account, which the export creates.
  const objects = allObjects(out);
  t.is(objects.find((d) => d.kind === 'Deployment' && d.metadata.name === 'productpage-v1')!.spec.template.spec.serviceAccountName, 'bookinfo-productpage');
  t.truthy(objects.find((d) => d.kind === 'ServiceAccount' && d.metadata.name === 'bookinfo-reviews'));
  for (const object of [...allObjects(files), ...allObjects(out)]) t.notThrows(() => validateObject(object), `${object.kind} ${object.metadata?.name}`);
});
