// The scale and fidelity benchmarks (`npm run bench -- scale`, `-- fidelity`): whether
// the laptop shows the mesh or mesh-sim's own overload. Scale: isotope-like trees of
// 10 to 200 services (5 ms each, children called in parallel), each measured for time
// to ready, PSS of all of mesh-sim's processes, idle CPU, traces complete, and the
// highest root rate whose p99 stays within twice the ideal. Fidelity: a chain of three
// 10 ms services at 20 and 200 rps against the ideal 30 ms. Every load is bounded in
// time and count, to 127.0.0.1 only.

import { MeshSession } from '../../src/mesh/session.js';
import { parseScenario } from '../../src/scenario/load.js';
import { runtimeFactory } from '../../src/runtime/registry.js';
import type { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import type { TrafficFlow } from '../../src/scenario/model.js';
import { cpuOf, pssOf } from './cpu.js';

const SERVICE_MS = 5;
const BRANCHING = 3;
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A tree of `n` services, each calling its children at once: the ideal root latency is one service's time per level. */
export function treeScenario(n: number): { text: string; levels: number } {
  const lines = ['name: tree', 'services:'];
  let levels = 0;
  for (let i = 0; i < n; i++) {
    const children = Array.from({ length: BRANCHING }, (_, k) => BRANCHING * i + k + 1).filter((c) => c < n).map((c) => `s${c}`);
    lines.push(`  s${i}: {latency: ${SERVICE_MS}ms${children.length > 0 ? `, calls: [{parallel: [${children.join(', ')}]}]` : ''}}`);
    let depth = 1;
    for (let j = i; j > 0; j = Math.floor((j - 1) / BRANCHING)) depth++;
    levels = Math.max(levels, depth);
  }
  lines.push('traffic:', '  - {name: root, to: s0, rps: 5, arrival: uniform}');
  return { text: lines.join('\n') + '\n', levels };
}

async function started(text: string): Promise<{ session: MeshSession; readyMs: number }> {
  const loaded = parseScenario(text, 'bench.yaml');
  const session = new MeshSession(loaded, { runtimeFactory: runtimeFactory('process'), seed: 1, retentionSeconds: 900 });
  const began = performance.now();
  await session.start();
  return { session, readyMs: performance.now() - began };
}

function allPids(session: MeshSession): number[] {
  return [process.pid, ...(session.runtime as ProcessRuntime).pids()];
}

/** p50 and p99 at `service` over requests answered between two wall-clock times. */
function latency(session: MeshSession, service: string, fromMs: number, toMs: number) {
  const f = session.stats.service(service, undefined, { fromMs, toMs });
  return { p50: f.p50Ms, p99: f.p99Ms, requests: f.requests, errors: f.errors };
}

/**
 * Drives the root at `rps` for `seconds`, after `settleSeconds` at that rate; what the
 * root's callers saw, and what was sent. A step up in rate grows every connection pool
 * on the way (each new connection between sidecars is a TLS handshake, 1.5-2.7 ms of CPU
 * here, both sides counted), and for a few seconds p99 reads
 * that growth, not the mesh at that rate; the settle lets the pools reach their size.
 */
async function step(session: MeshSession, flow: TrafficFlow, rps: number, seconds: number, settleSeconds = 1) {
  session.traffic!.setFlows([{ ...flow, rps }]);
  await sleep(settleSeconds * 1000);
  // The generator's own counts over the same window: whether answers keep up with what is sent.
  const before = { ...session.traffic!.counts };
  const from = Date.now();
  const fromScenarioMs = session.timeline?.elapsed() ?? 0;
  await sleep(seconds * 1000);
  const to = Date.now();
  const sent = session.traffic!.counts.sent - before.sent;
  const answered = session.traffic!.counts.answered - before.answered;
  // Whether mesh-sim's own overload watch (src/self-load) said it fell behind in this window.
  const fellBehind = session.selfLoad.overlapped(fromScenarioMs, session.timeline?.elapsed() ?? 0);
  return { ...latency(session, flow.to, from, to), sent, answered, fellBehind };
}

export async function scaleBenchmark(sizes: number[], log: (m: string) => void): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const n of sizes) {
    const { text, levels } = treeScenario(n);
    const ideal = levels * SERVICE_MS;
    log(`scale: ${n} services (${levels} levels, ideal root ${ideal} ms)`);
    const { session, readyMs } = await started(text);
    try {
      await sleep(2000);
      const pids = allPids(session);
      const idleBefore = await cpuOf(pids);
      await sleep(5000);
      const idleCpu = ((await cpuOf(pids)) - idleBefore) / 5;
      const pss = (await Promise.all(pids.map(pssOf))).reduce((s, v) => s + v, 0);
      session.beginTraffic();
      const flow = session.scenario.traffic[0]!;
      await sleep(4000);
      // Traces begun in the last two seconds may still have spans on the way (a node
      // sends once a second): completeness is judged on the older ones.
      session.traces.tick(Date.now(), true);
      const cutoff = Date.now() - 2000;
      const shapes = session.traces.recent();
      const judged = shapes.filter((t) => t.startMs < cutoff);
      const traces = { count: judged.length, complete: judged.filter((t) => t.complete).length, inFlight: shapes.length - judged.length };
      let best: Record<string, unknown> | undefined;
      let firstMiss: Record<string, unknown> | undefined;
      for (const rps of [10, 25, 50, 100, 200, 300, 400, 600]) {
        // Three windows at the rate once its pools have grown; their median p99 is the
        // verdict: a 5-second window's p99 is its five or so slowest requests, and one
        // stall on a shared machine moves it by half.
        const windows = [await step(session, flow, rps, 5, 4)];
        for (let w = 1; w < 3; w++) windows.push(await step(session, flow, rps, 5, 0));
        const p99s = windows.map((w) => w.p99).sort((a, b) => a - b);
        const r = { ...windows.find((w) => w.p99 === p99s[1])!, sent: windows.reduce((s, w) => s + w.sent, 0), answered: windows.reduce((s, w) => s + w.answered, 0), errors: windows.reduce((s, w) => s + w.errors, 0) };
        const held = r.answered >= r.sent * 0.9 && r.errors === 0 && r.p99 <= 2 * ideal;
        log(`scale: ${n} services at ${rps} rps: p99 ${round(r.p99)} ms (${round(r.p99 / ideal, 2)}x ideal; windows ${p99s.map((p) => round(p)).join(', ')}), ${r.answered}/${r.sent} answered`);
        const measured = {
          rps, p50Ms: round(r.p50), p99Ms: round(r.p99), p99OverIdeal: round(r.p99 / ideal, 2), p99WindowsMs: p99s.map((p) => round(p)), answered: `${r.answered}/${r.sent}`,
          // The watch's verdict beside the benchmark's: it should be silent within target, and speak when far past it.
          meshSimSaidItFellBehind: windows.filter((w) => w.fellBehind).length + ' of 3 windows',
        };
        if (!held) {
          firstMiss = measured;
          break;
        }
        best = measured;
      }
      out[`${n}`] = {
        readyMs: Math.round(readyMs),
        pssMB: round(pss / 1024 / 1024),
        idleCpuPercentOfACore: round(idleCpu * 100),
        traces,
        idealRootMs: ideal,
        highestRootRpsWithin2xIdeal: best ?? 'none of the rates tried',
        firstRateThatMissed: firstMiss ?? 'none up to 600 rps',
        nodes: (session.runtime as ProcessRuntime).nodeProcesses,
      };
    } finally {
      await session.finish(3000);
    }
  }
  return {
    ...out,
    targets: '200 services: ready <= 10 s, PSS <= 1.5 GB, idle CPU <= 5 % of a core, traces complete; 10 services: root 300 rps with p99 <= 2x ideal',
  };
}

export async function fidelityBenchmark(log: (m: string) => void): Promise<Record<string, unknown>> {
  const text = `name: chain
services:
  a: {latency: 10ms, calls: [b]}
  b: {latency: 10ms, calls: [c]}
  c: {latency: 10ms}
traffic:
  - {name: chain, to: a, rps: 20, arrival: uniform}
`;
  const { session } = await started(text);
  const out: Record<string, unknown> = {};
  try {
    session.beginTraffic();
    const flow = session.scenario.traffic[0]!;
    for (const rps of [20, 200]) {
      const root = await step(session, flow, rps, 8);
      const to = Date.now();
      const leaf = latency(session, 'c', to - 8000, to);
      log(`fidelity: ${rps} rps: root p50 ${round(root.p50)} ms (ideal 30), leaf p50 ${round(leaf.p50)} ms (ideal 10)`);
      out[`at${rps}Rps`] = {
        rootP50Ms: round(root.p50), rootP50OverIdeal: round(root.p50 / 30, 2), rootP99Ms: round(root.p99),
        leafP50Ms: round(leaf.p50), answered: `${root.answered}/${root.sent}`,
      };
    }
  } finally {
    await session.finish(3000);
  }
  return { ...out, target: 'root p50 <= 1.1x ideal (30 ms) at 20 rps, <= 1.25x at 200 rps' };
}
