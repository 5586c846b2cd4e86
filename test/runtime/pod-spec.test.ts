import test from 'ava';
import { podSpec, type PodSpec } from '../../src/runtime/pod-spec.js';
import type { InstancePlan, MeshEnvironment } from '../../src/runtime/runtime.js';
import { SIDECAR_ENV, type SidecarBoot } from '../../src/sidecar/boot.js';
import { WORKLOAD_ENV, type WorkloadBoot } from '../../src/workload/boot.js';
import { DockerRuntime } from '../../src/runtime/docker/docker-runtime.js';
import { FakeDocker } from '../helpers/fake-docker.js';
import { gatewayPlan } from '../../src/mesh/plan.js';

// One pod spec, carried out by every runtime: what a pod is made of is decided here once.

const plan = (kind: InstancePlan['kind'], extra: Partial<InstancePlan> = {}): InstancePlan => ({
  id: 'reviews-v2-0', service: 'reviews', version: 'v2', replica: 0, workload: 'reviews-v2', kind,
  command: kind === 'command' ? 'node app.js' : undefined, image: kind === 'image' ? 'me/reviews:1' : undefined, servicePort: 9080, sidecar: true, protocol: 'http', serviceAccount: 'reviews', ...extra,
});
const env: MeshEnvironment = {
  controlUrl: 'http://host.docker.internal:4000',
  controlSecret: 's3cret',
  initialWorkload: () => ({ version: 1, behaviour: undefined }) as never,
};
const placement = { ports: { app: 9080, inbound: 15006, outbound: 15001, admin: 15090 }, listenHost: '0.0.0.0', outboundHost: '127.0.0.1' };

const sidecarBoot = (spec: PodSpec) => JSON.parse(spec.containers.find((c) => c.name === 'sidecar')!.env[SIDECAR_ENV]!) as SidecarBoot;

test("a sample pod: mesh-sim's workload on the pod's loopback, and its sidecar in front", (t) => {
  const spec = podSpec(plan('sample'), env, placement);
  t.deepEqual(spec.containers.map((c) => [c.name, c.program.kind]), [['app', 'workload'], ['sidecar', 'sidecar']]);
  const workload = JSON.parse(spec.containers[0]!.env[WORKLOAD_ENV]!) as WorkloadBoot;
  t.deepEqual(workload.listen, { host: '127.0.0.1', port: 9080 });
  t.deepEqual(workload.proxy, { host: '127.0.0.1', port: 15001 }, 'its calls go to the sidecar');
  t.is(workload.controlSecret, 's3cret');
  const boot = sidecarBoot(spec);
  t.like(boot, { instance: 'reviews-v2-0', workload: 'reviews-v2', mode: 'sidecar', servicePort: 9080, controlSecret: 's3cret' });
  t.deepEqual(boot.listen, { host: '0.0.0.0', inbound: 15006, outbound: 15001, admin: 15090, outboundHost: '127.0.0.1' });
  t.deepEqual(boot.app, { host: '127.0.0.1', port: 9080 });
});

test("Istio's labels: app and version, the canonical service and revision", (t) => {
  const spec = podSpec(plan('sample'), env, placement);
  t.deepEqual(spec.labels, {
    app: 'reviews', version: 'v2', 'service.istio.io/canonical-name': 'reviews', 'service.istio.io/canonical-revision': 'v2',
  });
  t.is(spec.serviceAccount, 'reviews');
  t.deepEqual(spec.readiness, { container: 'sidecar', port: 15090, path: '/healthz/ready' });
});

test("a user's command or image is told PORT, HTTP_PROXY, who it is, and where its SDK sends spans with the secret", (t) => {
  for (const kind of ['command', 'image'] as const) {
    const spec = podSpec(plan(kind), env, placement);
    const app = spec.containers[0]!;
    t.deepEqual(app.program, kind === 'command' ? { kind: 'shell', command: 'node app.js' } : { kind: 'image', image: 'me/reviews:1' });
    t.like(app.env, {
      PORT: '9080', HTTP_PROXY: 'http://127.0.0.1:15001', MESH_SIM_INSTANCE: 'reviews-v2-0', OTEL_SERVICE_NAME: 'reviews',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://host.docker.internal:4000/v1/traces',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20s3cret',
    });
  }
});

test('the gateway is a sidecar alone, its way in facing callers', (t) => {
  const spec = podSpec(gatewayPlan(), env, { ...placement, outboundHost: '0.0.0.0' });
  t.deepEqual(spec.containers.map((c) => c.name), ['sidecar']);
  const boot = sidecarBoot(spec);
  t.is(boot.mode, 'gateway');
  t.is(boot.app, undefined);
  t.is(boot.listen.outboundHost, undefined, 'the same host as the rest: all interfaces');
});

test('on the process runtime every listener is on loopback', (t) => {
  const spec = podSpec(plan('sample'), env, { ports: { app: 30001, inbound: 30002, outbound: 30003, admin: 30004 }, listenHost: '127.0.0.1', outboundHost: '127.0.0.1' });
  t.deepEqual(sidecarBoot(spec).listen, { host: '127.0.0.1', inbound: 30002, outbound: 30003, admin: 30004 });
});

test('the Docker runtime turns a pod spec into create bodies as data, before it calls Docker', (t) => {
  const fake = new FakeDocker();
  const runtime = new DockerRuntime({ onLog: () => {}, onExit: () => {} }, 'run1', fake);
  const bodies = runtime.containerPlans(podSpec(plan('sample'), env, placement));
  t.deepEqual(fake.calls, [], 'nothing was asked of Docker');
  t.deepEqual(bodies.map((b) => b.role), ['app', 'sidecar']);
  const [app, sidecar] = bodies.map((b) => b.body);
  t.true(app!.Env!.some((e) => e.startsWith(`${WORKLOAD_ENV}=`)));
  t.like(app!.Labels, { app: 'reviews', version: 'v2', 'mesh-sim.run': 'run1', 'mesh-sim.role': 'app' });
  t.like(app!.HostConfig, { CapDrop: ['ALL'], ReadonlyRootfs: true, NetworkMode: 'mesh-sim-run1' });
  t.regex(String(sidecar!.HostConfig!.NetworkMode), /^container:/, "the sidecar joins the app's network namespace");
  t.true(sidecar!.Env!.some((e) => e.startsWith(`${SIDECAR_ENV}=`)));
});
