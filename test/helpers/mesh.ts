// Running a real mesh in a test: a session on the process runtime, with what it logged
// and a way to read the sidecars' Prometheus metrics.

import { parseScenario, loadScenarioFile, type LoadedScenario } from '../../src/scenario/load.js';
import { MeshSession } from '../../src/mesh/session.js';
import { runtimeFactory } from '../../src/runtime/registry.js';
import type { AccessLogEntry, OutlierEventEntry } from '../../src/telemetry/access-log.js';

export interface TestMesh {
  session: MeshSession;
  access: AccessLogEntry[];
  outlier: OutlierEventEntry[];
  appLines: string[];
}

export async function loadText(text: string): Promise<LoadedScenario> {
  return parseScenario(text, 'test.yaml');
}

export async function loadFile(file: string): Promise<LoadedScenario> {
  return loadScenarioFile(file);
}

export async function startMesh(loaded: LoadedScenario, seed = 42): Promise<TestMesh> {
  const session = new MeshSession(loaded, { runtimeFactory: runtimeFactory('process'), seed, retentionSeconds: 600 });
  const mesh: TestMesh = { session, access: [], outlier: [], appLines: [] };
  session.on('log', (record) => {
    if (record.kind === 'access') mesh.access.push(record.entry);
    else if (record.kind === 'outlier') mesh.outlier.push(record.entry);
    else mesh.appLines.push(record.text);
  });
  await session.start();
  return mesh;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus' text exposition format, samples only. */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!.replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    samples.push({ name: match[1]!, labels, value: Number(match[4]) });
  }
  return samples;
}

export async function scrape(host: string, port: number): Promise<Sample[]> {
  const res = await fetch(`http://${host}:${port}/stats/prometheus`);
  return parsePrometheus(await res.text());
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface ScenarioRun extends TestMesh {
  summary: import('../../src/mesh/summary.js').Summary;
  /** Every sidecar's /stats/prometheus, read after the traffic ended. */
  metrics: Sample[];
}

/** Runs a scenario for `seconds` on processes and returns everything it measured. */
export async function runScenario(text: string, seconds: number, seed = 42): Promise<ScenarioRun> {
  const { sessionSummary } = await import('../../src/mesh/summary.js');
  const loaded = await loadText(text);
  const mesh = await startMesh(loaded, seed);
  const { session } = mesh;
  session.beginTraffic(seconds * 1000);
  await sleep(seconds * 1000);
  await session.stopTraffic();
  await sleep(300);
  const metrics: Sample[] = [];
  for (const status of session.instances.values()) {
    const admin = status.started?.admin;
    if (admin && status.state === 'ready') metrics.push(...(await scrape(admin.host, admin.port)));
  }
  await session.finish();
  const summary = sessionSummary(session);
  return { ...mesh, summary, metrics };
}

export function sumOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}

/** A caller and a callee (retries off, so every failure shows) whose callee is killed, then restarted. */
export function crashScenario(rps: number, killAt: string, restartAt: string): string {
  return `
name: crash
services:
  web: {calls: [api]}
  api: {}
mesh:
  api:
    retries: {attempts: 0}
traffic:
  - {to: web, rps: ${rps}, arrival: uniform}
timeline:
  - {at: ${killAt}, kill: {service: api}}
  - {at: ${restartAt}, restart: {service: api}}
`;
}
