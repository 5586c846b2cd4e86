// `up --watch` on a real mesh: the scenario file is edited while the mesh runs (routes,
// then a fault and a new version, then an edit that no longer validates) and each save
// is pushed, shows in the statistics, or is reported with the mesh left as it was.
import test from 'ava';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFile, sleep, startMesh } from '../helpers/mesh.js';
import { LiveEdit } from '../../src/mesh/live-edit.js';
import type { ScenarioChanges } from '../../src/mesh/changes.js';
import { UiStore } from '../../src/tui/store.js';

const scenario = (route: string, extra = '', versions = 'v1: {}\n      v2: {}') => `name: live
services:
  web:
    calls: [reviews]
  reviews:
    versions:
      ${versions}
istio:
  - apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata: {name: reviews}
    spec:
      host: reviews
      subsets:
        - {name: v1, labels: {version: v1}}
        - {name: v2, labels: {version: v2}}
        - {name: v3, labels: {version: v3}}
  - apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: reviews}
    spec:
      hosts: [reviews]
      http:
        - ${extra}route:
            - destination: {host: reviews, subset: ${route}}
traffic:
  - {to: web, rps: 40, arrival: uniform}
`;

/** Saves as editors do: a new file renamed over the old. */
async function save(file: string, text: string): Promise<void> {
  await writeFile(`${file}.swp`, text);
  await rename(`${file}.swp`, file);
}

function waitFor<T>(list: T[], count: number, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (list.length >= count) resolve(list[count - 1]!);
      else if (Date.now() > deadline) reject(new Error(`waited ${ms} ms for save number ${count}`));
      else setTimeout(poll, 50);
    };
    poll();
  });
}

test.serial('a saved edit is pushed live: routes, then a fault and a new version; an invalid save is shown and changes nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-sim-watch-'));
  const file = join(dir, 'live.yaml');
  await writeFile(file, scenario('v1'));
  const mesh = await startMesh(await loadFile(file), 7);
  const { session } = mesh;
  const store = new UiStore(session, 'process');
  const applied: ScenarioChanges[] = [];
  const invalid: string[][] = [];
  const edit = new LiveEdit(file, session, {
    applied: (c) => {
      applied.push(c);
      store.fileApplied(c);
    },
    invalid: (p) => {
      invalid.push(p);
      store.fileInvalid(p);
    },
  });
  const pushes: number[] = [];
  session.on('pushed', (version) => pushes.push(version));
  /**
   * The requests of the next two whole seconds, once every sidecar has sent its
   * telemetry. Statistics are kept per second, so the window starts on a second's
   * boundary: a second begun before the edit would hold requests from before it.
   */
  const measure = async () => {
    await sleep(1000 - (Date.now() % 1000) + 20);
    const fromMs = Date.now();
    await sleep(2000);
    const toMs = Date.now();
    await session.flushTelemetry();
    return (service: string, version?: string) => session.stats.service(service, version, { fromMs, toMs });
  };
  try {
    session.beginTraffic();
    await edit.start();
    let figures = await measure();
    t.true(figures('reviews', 'v1').requests > 20, 'everyone on v1 first');
    t.is(figures('reviews', 'v2').requests, 0);
    const webPod = session.instances.get('web-v1-0')!;

    // 1. A route change: a push, and the traffic moves.
    await save(file, scenario('v2'));
    const routed = await waitFor(applied, 1);
    t.deepEqual(routed.lines, ['VirtualService reviews configured']);
    t.is(pushes.length, 1, 'one config push');
    figures = await measure();
    t.true(figures('reviews', 'v2').requests > 20, `v2 after the edit: ${figures('reviews', 'v2').requests}`);
    t.true(figures('reviews', 'v1').requests < figures('reviews', 'v2').requests / 10, 'v1 no longer routed to');

    // 2. A fault, and a version that needs a pod of its own: just that pod starts.
    await save(file, scenario('v3', 'fault: {abort: {percentage: {value: 100}, httpStatus: 503}}\n          ', 'v1: {}\n      v2: {}\n      v3: {}'));
    const faulted = await waitFor(applied, 2);
    t.deepEqual(faulted.start.map((p) => p.id), ['reviews-v3-0']);
    t.deepEqual([...faulted.stop, ...faulted.replace], []);
    t.true(faulted.lines.includes('reviews v3 created (1 replica)'), faulted.lines.join('; '));
    t.is(session.instances.get('reviews-v3-0')?.state, 'ready', 'the new pod is ready before the apply is done');
    t.is(session.instances.get('web-v1-0')!.started, webPod.started, 'other pods keep running untouched');
    figures = await measure();
    const web = figures('web');
    t.true(web.requests > 20 && web.errorRate > 0.9, `the abort fails every page: ${web.requests} requests, ${web.errorRate}`);
    t.is(store.snapshot().timeline.narration?.text.startsWith('applied: '), true);

    // 3. An edit that no longer validates: shown, and nothing moves.
    const version = session.plane.configVersion;
    const pushesBefore = pushes.length;
    await save(file, (await readFile(file, 'utf8')).replace('rps: 40', 'rps: lots'));
    const problems = await waitFor(invalid, 1);
    t.regex(problems[0]!, /live\.yaml:\d+:\d+: .*rps/);
    t.deepEqual(store.snapshot().problems, problems);
    await sleep(1000);
    t.is(session.plane.configVersion, version, 'no push');
    t.is(pushes.length, pushesBefore);
    t.is(applied.length, 2);
    figures = await measure();
    t.true(figures('web').requests > 20 && figures('web').errorRate > 0.9, 'the mesh runs on as it was');

    // 4. Scale back down: the removed pod stops, and a fixed file clears the problems.
    await save(file, scenario('v1'));
    const reverted = await waitFor(applied, 3);
    t.deepEqual(reverted.stop.map((p) => p.id), ['reviews-v3-0']);
    t.false(session.instances.has('reviews-v3-0'));
    t.deepEqual(store.snapshot().problems, []);
  } finally {
    await edit.close();
    await session.shutdown();
    await rm(dir, { recursive: true, force: true });
  }
});
