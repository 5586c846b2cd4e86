import test from 'ava';
import { MeshSession } from '../../src/mesh/session.js';
import { sessionSummary } from '../../src/mesh/summary.js';
import { runtimeFactory } from '../../src/runtime/registry.js';
import { loadText, sleep } from '../helpers/mesh.js';
import { dockerAvailable } from '../helpers/docker.js';

// A mesh driven past what one node process can carry: its node reports its busy loop,
// mesh-sim warns that its latencies now include its own queueing, and the summary says
// for how long, on processes and on Docker. (A calm run's silence is judged in test/self-load, on the watch itself:
// on a shared machine, the machine may be busy for reasons of its own.)

const dockerHere = await dockerAvailable();
const dockerRequired = process.env.MESH_SIM_REQUIRE_ALL === '1' || process.env.CI === 'true';

const CHAIN = `
name: overload
services:
  a: {calls: [b]}
  b: {calls: [c]}
  c: {calls: [d]}
  d: {}
traffic:
  - {to: a, rps: 2500}
checks:
  - "requests(a) > 0"
`;

/** The chain at 2,500 rps for 5 s at most; which sources reported, what was said, and the summary. */
async function overload(runtime: 'process' | 'docker') {
  const loaded = await loadText(CHAIN);
  const sources = new Set<string>();
  const session = new MeshSession(loaded, { runtimeFactory: runtimeFactory(runtime), runtimeOptions: { nodes: 1 }, seed: 7, retentionSeconds: 60 });
  const warnings: string[] = [];
  session.on('overload', (state, message) => {
    if (state === 'overloaded') warnings.push(message);
  });
  const report = session.selfLoad.report.bind(session.selfLoad);
  session.selfLoad.report = (source, busy) => {
    sources.add(source);
    report(source, busy);
  };
  try {
    await session.start();
    session.beginTraffic(5000);
    // Bounded: 5 s of traffic at 2,500 rps, at most.
    for (let i = 0; i < 50 && !warnings.some((w) => w.includes('cannot keep up')); i++) await sleep(100);
    await sleep(Math.max(0, 5000 - (Date.now() - session.trafficStartedAt!)));
    await session.stopTraffic(2000);
  } finally {
    await session.finish(0);
  }
  return { sources, warning: warnings.find((w) => w.includes('cannot keep up')), warnings, summary: sessionSummary(session) };
}

test.serial('driven past one node\'s capacity, mesh-sim says it cannot keep up, and which process was busy', async (t) => {
  const { sources, warning, warnings, summary } = await overload('process');
  t.truthy(warning, warnings.join('\n'));
  t.regex(warning!, /latencies now include its own queueing/);
  t.true(sources.has('node-0'), 'the node reported its own loop while busy');
  t.truthy(summary.overloaded, 'the summary says mesh-sim fell behind');
  t.true(summary.overloaded!.seconds >= 2, JSON.stringify(summary.overloaded));
  t.true(summary.checks[0]!.overloaded, 'the whole-run check is marked: its figures include mesh-sim\'s queueing');
});

(dockerHere || dockerRequired ? test.serial : test.skip)('on Docker, the sidecars in their own containers report their loops too', async (t) => {
  if (!dockerHere) return t.fail('no Docker daemon: .ci/run installs docker.io and starts dockerd');
  const { sources, warning, warnings, summary } = await overload('docker');
  t.truthy(warning, warnings.join('\n'));
  const proxies = [...sources].filter((s) => s.startsWith('the proxy of '));
  t.true(proxies.length > 0, `a sidecar container reported its loop: heard from ${[...sources].join(', ') || 'nobody'}`);
  t.truthy(summary.overloaded);
});
