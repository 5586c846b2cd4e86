import test from 'ava';
import { DockerRuntime } from '../../src/runtime/docker/docker-runtime.js';
import { InstanceStartError, type InstancePlan, type MeshEnvironment } from '../../src/runtime/runtime.js';
import { FakeDocker } from '../helpers/fake-docker.js';

// A start that fails while others are under way: the stop that follows waits for them
// (bounded), so what they create is removed too, and nothing starts after a stop.

const plan = (service: string): InstancePlan => ({
  id: `${service}-v1-0`, service, version: 'v1', replica: 0, workload: `${service}-v1`, kind: 'sample', command: undefined, image: undefined, servicePort: 9080, sidecar: true, protocol: 'http', serviceAccount: service,
});
const env: MeshEnvironment = { controlUrl: 'http://x:1', controlSecret: 's', initialWorkload: () => ({}) as never };
const hooks = { onLog: () => {}, onExit: () => {} };

test('when one pod fails to start, stopping removes every container, even those created after the failure', async (t) => {
  const fake = new FakeDocker();
  fake.failStart = /-b-v1-0$/;
  fake.slowCreate = { match: /-c-v1-0/, ms: 300 };
  const runtime = new DockerRuntime(hooks, 'r1', fake);
  await runtime.prepare(() => {});
  const starts = ['a', 'b', 'c', 'd'].map((s) => runtime.start(plan(s), env));
  const outcomes = await Promise.allSettled(starts.slice(0, 2));
  t.is(outcomes[1]!.status, 'rejected');
  t.true((outcomes[1] as PromiseRejectedResult).reason instanceof InstanceStartError);
  // Stop at once, while c's containers are still being created.
  await runtime.stop(0);
  await Promise.allSettled(starts);
  t.deepEqual(fake.live().map((c) => c.body.name), [], 'no container outlives the stop');
  const removedAfterCreate = fake.calls.filter((c) => c.startsWith('create') || c.startsWith('remove'));
  t.true(removedAfterCreate.filter((c) => c.startsWith('remove')).length >= removedAfterCreate.filter((c) => c.startsWith('create')).length);
});

test('a start asked for after stop is refused without touching Docker', async (t) => {
  const fake = new FakeDocker();
  const runtime = new DockerRuntime(hooks, 'r2', fake);
  await runtime.prepare(() => {});
  await runtime.stop(0);
  const before = fake.calls.length;
  const error = await t.throwsAsync(runtime.start(plan('late'), env), { instanceOf: InstanceStartError });
  t.regex(error!.message, /the mesh is stopping/);
  t.is(fake.calls.length, before);
});
