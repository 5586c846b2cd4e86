// `--jaeger` on the Docker runtime, against a Docker client that keeps containers in
// memory: Jaeger all-in-one beside Prometheus and Grafana, on 127.0.0.1, with Grafana's
// Jaeger data source mounted only when Jaeger runs; said plainly when it cannot be had;
// and the data source, the container and the dashboards' trace links agree.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DockerRuntime, jaegerContainer } from '../../src/runtime/docker/docker-runtime.js';
import { JAEGER_IMAGE } from '../../src/runtime/docker/images.js';
import { PACKAGE_ROOT } from '../../src/version.js';
import { FakeDocker } from '../helpers/fake-docker.js';

const hooks = { onLog: () => {}, onExit: () => {} };
const grafanaBinds = (fake: FakeDocker) => fake.live().find((c) => /-grafana$/.test(c.body.name ?? ''))?.body.HostConfig?.Binds ?? [];

test('with --jaeger, Jaeger all-in-one starts on the mesh network, publishes on loopback, and Grafana gets its data source', async (t) => {
  const fake = new FakeDocker();
  const runtime = new DockerRuntime(hooks, 'j1', fake);
  await runtime.prepare(() => {});
  const said: string[] = [];
  const seen = await runtime.startObservability((m) => said.push(m), { scrapeIntervalSeconds: 5, jaeger: true });
  const jaeger = fake.live().find((c) => c.body.name === 'mesh-sim-j1-jaeger');
  t.truthy(jaeger, 'a Jaeger container');
  t.is(jaeger!.body.Image, JAEGER_IMAGE);
  t.true(jaeger!.running);
  t.true(jaeger!.body.Env!.includes('COLLECTOR_OTLP_ENABLED=true'));
  const bindings = jaeger!.body.HostConfig!.PortBindings as Record<string, Array<{ HostIp: string }>>;
  t.deepEqual(Object.keys(bindings).sort(), ['16686/tcp', '4318/tcp']);
  t.true(Object.values(bindings).flat().every((b) => b.HostIp === '127.0.0.1'), 'loopback only');
  t.deepEqual(jaeger!.body.NetworkingConfig!.EndpointsConfig!['mesh-sim-j1']!.Aliases, ['jaeger']);
  t.regex(seen.jaeger!.ui, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.regex(seen.jaeger!.otlp, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.not(seen.jaeger!.ui, seen.jaeger!.otlp);
  t.true(said.some((m) => m.startsWith(`Jaeger ${seen.jaeger!.ui}`)));
  t.true(grafanaBinds(fake).some((b) => b.endsWith(':/etc/grafana/provisioning/datasources/jaeger.yml:ro')));
  await runtime.stop(0);
  t.deepEqual(fake.live(), [], 'Jaeger goes with the rest');
});

test('without --jaeger there is no Jaeger and no Jaeger data source', async (t) => {
  const fake = new FakeDocker();
  const runtime = new DockerRuntime(hooks, 'j2', fake);
  await runtime.prepare(() => {});
  const seen = await runtime.startObservability(() => {}, { scrapeIntervalSeconds: 5 });
  t.is(seen.jaeger, undefined);
  t.false(fake.live().some((c) => /jaeger/.test(c.body.name ?? '')));
  t.false(grafanaBinds(fake).some((b) => /jaeger/.test(b)));
  await runtime.stop(0);
});

test('where no registry answers, Jaeger is said not to start and why, and the rest runs', async (t) => {
  const fake = new FakeDocker();
  fake.absent = /jaeger/;
  fake.pullError = 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host';
  const runtime = new DockerRuntime(hooks, 'j3', fake);
  await runtime.prepare(() => {});
  const seen = await runtime.startObservability(() => {}, { scrapeIntervalSeconds: 5, jaeger: true });
  t.is(seen.jaeger, undefined);
  t.truthy(seen.prometheus);
  t.truthy(seen.grafana);
  const note = seen.notes.find((n) => n.startsWith('Jaeger not started'));
  t.regex(note ?? '', /cannot pull jaegertracing\/all-in-one:[\d.]+ \(Get "https:\/\/registry-1\.docker\.io.*no such host\)/);
  t.regex(note ?? '', /docker save .* `docker load`/);
  t.true(fake.calls.includes(`pull ${JAEGER_IMAGE}`), 'it tried to pull');
  t.false(grafanaBinds(fake).some((b) => /jaeger/.test(b)), 'no data source for a Jaeger that is not there');
  await runtime.stop(0);
});

test('the data source, the container and the dashboards\' trace links name the same Jaeger', async (t) => {
  const source = parse(await readFile(join(PACKAGE_ROOT, 'compose', 'grafana', 'jaeger-datasource.yml'), 'utf8')) as { datasources: Array<{ uid: string; type: string; url: string }> };
  const [ds] = source.datasources;
  t.is(ds!.type, 'jaeger');
  const body = jaegerContainer('x', 'net');
  const url = new URL(ds!.url);
  t.true(body.NetworkingConfig!.EndpointsConfig!.net!.Aliases!.includes(url.hostname), 'by the container\'s alias');
  t.true(`${url.port}/tcp` in body.ExposedPorts!, 'on its query port');
  for (const name of ['istio-mesh.json', 'istio-service.json']) {
    const dashboard = JSON.parse(await readFile(join(PACKAGE_ROOT, 'dashboards', name), 'utf8')) as { links?: Array<{ url: string }> };
    const link = dashboard.links?.find((l) => l.url.startsWith('/explore'));
    t.truthy(link, `${name} links to its traces`);
    const left = JSON.parse(decodeURIComponent(new URL(link!.url, 'http://grafana').searchParams.get('left')!)) as { datasource: string; queries: Array<{ datasource: { uid: string } }> };
    t.is(left.datasource, ds!.uid, name);
    t.is(left.queries[0]!.datasource.uid, ds!.uid);
  }
});
