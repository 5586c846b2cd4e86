// The soak benchmark: Bookinfo on the process runtime at a steady 200 requests a second
// for ten minutes (`npm run bench -- soak [minutes]`), sampling the memory of every
// mesh-sim process each minute: mesh-sim itself (control plane, collector, statistics,
// traces) and every sidecar and workload. Memory should be flat after warm-up; the
// slope over the minutes after the first two says whether it is. Bounded in time and
// count, traffic to 127.0.0.1 only.

import { readFile } from 'node:fs/promises';
import { MeshSession } from '../../src/mesh/session.js';
import { loadScenarioFile } from '../../src/scenario/load.js';
import { runtimeFactory } from '../../src/runtime/registry.js';
import type { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { PACKAGE_ROOT } from '../../src/version.js';

const RPS = 200;
const WARM_UP_MINUTES = 2;

async function rssOf(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return num / den;
}

export interface SoakMinute {
  minute: number;
  /** mesh-sim's own process: control plane, collector, statistics, traces. */
  meshSimMB: number;
  /** Every sidecar and workload together. */
  childrenMB: number;
  /** The largest single child. */
  largestChildMB: number;
  requests: number;
  /** Every process by name (`mesh-sim`, `node-0`...). */
  processes: Record<string, number>;
}

export async function soak(minutes: number, log: (m: string) => void): Promise<Record<string, unknown>> {
  const loaded = await loadScenarioFile(`${PACKAGE_ROOT}/scenarios/bookinfo.yaml`);
  const scenario = {
    ...loaded.scenario,
    timeline: [],
    checks: [],
    traffic: [{ ...loaded.scenario.traffic[0]!, id: 'soak', name: 'soak', rps: RPS, arrival: 'uniform' as const, headers: {} }],
  };
  const session = new MeshSession({ ...loaded, scenario, states: new Map() }, { runtimeFactory: runtimeFactory('process'), seed: 42, retentionSeconds: 900 });
  await session.start();
  session.beginTraffic(minutes * 60_000);
  const runtime = session.runtime as ProcessRuntime;
  const samples: SoakMinute[] = [];
  const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
  try {
    for (let minute = 1; minute <= minutes; minute++) {
      await new Promise((r) => setTimeout(r, 60_000));
      const named: Array<[string, number]> = [];
      for (const [i, pid] of runtime.pids().entries()) named.push([`node-${i}`, await rssOf(pid)]);
      const children = named.map(([, rss]) => rss);
      const sample: SoakMinute = {
        minute,
        meshSimMB: mb(process.memoryUsage().rss),
        childrenMB: mb(children.reduce((s, n) => s + n, 0)),
        largestChildMB: mb(Math.max(...children)),
        requests: session.traffic?.counts.answered ?? 0,
        processes: Object.fromEntries([['mesh-sim', mb(process.memoryUsage().rss)], ...named.map(([n, rss]) => [n, mb(rss)] as [string, number])]),
      };
      samples.push(sample);
      log(`soak: minute ${minute}: mesh-sim ${sample.meshSimMB} MB, ${children.length} children ${sample.childrenMB} MB (largest ${sample.largestChildMB} MB), ${sample.requests} requests answered`);
    }
  } finally {
    await session.finish();
  }
  const after = samples.filter((s) => s.minute > WARM_UP_MINUTES);
  const perProcess = Object.fromEntries(Object.keys(samples[0]?.processes ?? {}).map((name) => [
    name, Math.round(slope(after.map((s) => [s.minute, s.processes[name] ?? 0])) * 100) / 100,
  ]));
  const counts = session.traffic?.counts;
  return {
    minutes,
    targetRps: RPS,
    achievedRps: Math.round(((counts?.answered ?? 0) / (minutes * 60)) * 10) / 10,
    errors: Object.entries(counts?.statuses ?? {}).filter(([s]) => Number(s) >= 500).reduce((n, [, c]) => n + c, 0),
    samples,
    slopeAfterWarmUpMBPerMinute: {
      meshSim: Math.round(slope(after.map((s) => [s.minute, s.meshSimMB])) * 100) / 100,
      children: Math.round(slope(after.map((s) => [s.minute, s.childrenMB])) * 100) / 100,
      largestChild: Math.round(slope(after.map((s) => [s.minute, s.largestChildMB])) * 100) / 100,
      perProcess,
    },
    target: `flat after ${WARM_UP_MINUTES} minutes of warm-up`,
  };
}
