import test from 'ava';
import { ControlPlane } from '../../src/control/plane.js';
import { NodeSubscription } from '../../src/control/node-client.js';
import { Hub } from '../../src/mesh/hub.js';
import { emptyMeshConfig } from '../../src/policy/config.js';
import type { Scenario } from '../../src/scenario/model.js';
import type { SidecarSnapshot, WorkloadSnapshot } from '../../src/control/protocol.js';

// One control-plane connection for all the pods of a node: each member gets its own
// snapshot, a pod's sidecar and workload (which share a name) both, acknowledgements
// count per sidecar, and a flush holds the acknowledgement back until it is done.

const service = (name: string, latencyMs: number): Scenario['services'][number] => ({
  name, port: 9080, sidecar: true, protocol: 'http', serviceAccount: name, where: 't:1',
  versions: [{ name: 'v1', replicas: 1, latency: { kind: 'constant', ms: latencyMs }, errorRate: 0, errorStatus: 500, responseSize: 10, calls: [], image: undefined, command: undefined, where: 't:1' }],
});

async function setup() {
  const plane = new ControlPlane({ services: [service('a', 5), service('b', 5)], config: emptyMeshConfig() }, 1);
  const ids = ['a-v1-0', 'b-v1-0'].map((instance) => ({ instance, service: instance[0]!, version: 'v1', host: '127.0.0.1', port: 1 }));
  for (const id of ids) plane.register(id);
  const hub = new Hub(plane, (id) => ids.find((i) => i.instance === id), () => {});
  const port = await hub.listen(['127.0.0.1']);
  const node = new NodeSubscription(`http://127.0.0.1:${port}`, 'node-0', hub.secret);
  return { plane, hub, node };
}

const until = async (done: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return done();
};

test("a pod's sidecar and workload, sharing a name, each get their own snapshot, and changes", async (t) => {
  const { plane, hub, node } = await setup();
  t.teardown(async () => { node.stop(); await hub.close(); });
  const sidecars: SidecarSnapshot[] = [];
  const workloads: WorkloadSnapshot[] = [];
  node.joinSidecar('a-v1-0', (s) => void sidecars.push(s));
  node.joinWorkload('a-v1-0', (w) => void workloads.push(w));
  t.true(await until(() => sidecars.length > 0 && workloads.length > 0), 'both got a snapshot at once');
  t.is(workloads[0]!.behaviour.latency.kind, 'constant');
  plane.setScenario({ services: [service('a', 250), service('b', 5)], config: emptyMeshConfig() });
  t.true(await until(() => workloads.some((w) => w.behaviour.latency.kind === 'constant' && w.behaviour.latency.ms === 250)), "the workload's new behaviour arrived");
  t.true(await until(() => sidecars.at(-1)!.version === plane.version));
});

test('acknowledgements count for each sidecar on the node, and wait for a flush', async (t) => {
  const { plane, hub, node } = await setup();
  t.teardown(async () => { node.stop(); await hub.close(); });
  let release = () => {};
  let flushes = 0;
  const flushed = new Promise<void>((r) => (release = r));
  let lastFlush = 0;
  node.joinSidecar('a-v1-0', (s) => {
    if (s.flush !== lastFlush) {
      lastFlush = s.flush;
      flushes++;
      return flushed;
    }
    return undefined;
  });
  node.joinSidecar('b-v1-0', () => undefined);
  t.true(await until(() => plane.ackedVersion('a-v1-0') === plane.version && plane.ackedVersion('b-v1-0') === plane.version), 'both acknowledged, by one connection');
  const version = plane.flush();
  await new Promise((r) => setTimeout(r, 300));
  t.is(flushes, 1);
  t.true((plane.ackedVersion('a-v1-0') ?? 0) < version, 'not acknowledged while a sidecar still sends its telemetry');
  release();
  t.true(await until(() => (plane.ackedVersion('a-v1-0') ?? 0) >= version && (plane.ackedVersion('b-v1-0') ?? 0) >= version));
});
