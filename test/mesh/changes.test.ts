// What a live edit changes, in kubectl's words, and which pods it starts, stops or
// replaces; the state a file describes at a point of its timeline; a timeline replaced
// mid-run.
import test from 'ava';
import { parseScenario } from '../../src/scenario/load.js';
import { scenarioChanges } from '../../src/mesh/changes.js';
import { stateAt } from '../../src/mesh/session.js';
import { TimelineRunner } from '../../src/mesh/timeline.js';

const base = `name: edit
services:
  web: {calls: [reviews]}
  reviews:
    versions: {v1: {}, v2: {}}
istio:
  - apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: reviews}
    spec:
      hosts: [reviews]
      http: [{route: [{destination: {host: reviews, subset: v1}}]}]
traffic:
  - {name: users, to: web, rps: 10}
`;
const load = (text: string) => parseScenario(text, 'edit.yaml').scenario;

test('an unchanged file changes nothing', (t) => {
  const changes = scenarioChanges(load(base), load(`${base}\n# a comment\n`));
  t.true(changes.empty);
  t.deepEqual(changes.lines, []);
});

test('resources are created, configured and deleted by kind and name', (t) => {
  const after = base
    .replace('subset: v1', 'subset: v2')
    .replace('traffic:', `  - apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata: {name: reviews}
    spec: {host: reviews, trafficPolicy: {connectionPool: {tcp: {maxConnections: 1}}}}
traffic:`);
  t.deepEqual(scenarioChanges(load(base), load(after)).lines, ['VirtualService reviews configured', 'DestinationRule reviews created']);
  t.deepEqual(scenarioChanges(load(after), load(base)).lines, ['VirtualService reviews configured', 'DestinationRule reviews deleted']);
});

test('replicas and versions start and stop just their pods; behaviour changes restart nothing', (t) => {
  const after = load(base.replace('versions: {v1: {}, v2: {}}', 'versions: {v1: {replicas: 2, latency: 5ms}, v3: {}}'));
  const changes = scenarioChanges(load(base), after);
  t.deepEqual(changes.start.map((p) => p.id), ['reviews-v1-1', 'reviews-v3-0']);
  t.deepEqual(changes.stop.map((p) => p.id), ['reviews-v2-0']);
  t.deepEqual(changes.replace, []);
  t.deepEqual(changes.lines, ['reviews v1 scaled from 1 to 2', 'reviews v1 behaviour changed', 'reviews v3 created (1 replica)', 'reviews v2 deleted']);
});

test('a new port or leaving the mesh replaces the pods; a new service and flow are named', (t) => {
  const after = load(base.replace('web: {calls: [reviews]}', 'web: {calls: [reviews], port: 9080, sidecar: false}\n  ratings: {}')
    .replace('rps: 10}', 'rps: 20}\n  - {name: probe, to: ratings, rps: 1}'));
  const changes = scenarioChanges(load(base), after);
  t.deepEqual(changes.replace.map((p) => p.id), ['web-v1-0']);
  t.deepEqual(changes.start.map((p) => p.id), ['ratings-v1-0']);
  t.true(changes.lines.includes('service web port default → 9080'));
  t.true(changes.lines.includes('service web leaves the mesh (no sidecar)'));
  t.true(changes.lines.includes('service ratings created (v1×1)'));
  t.true(changes.lines.includes('traffic users configured 10 rps → 20 rps'));
  t.true(changes.lines.includes('traffic probe created (1 rps to ratings/)'));
});

test('the state a file describes at a time is the one after its last change due by then', (t) => {
  const loaded = parseScenario(`${base}timeline:
  - {at: 5s, set: {traffic: [{name: users, to: web, rps: 30}]}}
  - {at: 10s, say: later}
`, 'edit.yaml');
  t.is(stateAt(loaded, 4999).traffic[0]!.rps, 10);
  t.is(stateAt(loaded, 5000).traffic[0]!.rps, 30);
  t.is(stateAt(loaded, 60_000).traffic[0]!.rps, 30);
});

test('a replaced timeline runs on from the present: what is past is taken as done', async (t) => {
  let now = 0;
  const ran: string[] = [];
  const events = (names: Array<[string, number]>) => names.map(([say, atMs], index) => ({ index, atMs, say, set: undefined, apply: undefined, delete: undefined, kill: undefined, restart: undefined, check: undefined, where: '' }));
  const runner = new TimelineRunner(events([['a', 0], ['b', 60_000]]), async (e) => void ran.push(e.say!), () => now);
  runner.start();
  await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(ran, ['a']);
  now = 30_000;
  runner.replace(events([['x', 10_000], ['y', 30_000], ['z', 45_000]]));
  t.is(runner.position, 2, 'x and y are in the past');
  t.is(runner.next()?.say, 'z');
  runner.stop();
});
