// The traffic generator on its own: what a cluster's traffic Job runs (mesh-sim export).
// Sends the scenario's flows to the ingress gateway for the scenario's duration, makes
// the timeline's traffic changes at their times, then prints each flow's own outcome as
// one JSON line, as `mesh-sim run --json` reports flows.

import { readTrafficBoot } from './boot.js';
import { TrafficGenerator } from './generator.js';
import { FlowStats } from '../telemetry/stats.js';
import { NO_SEGMENT } from '../telemetry/windows.js';

const boot = readTrafficBoot(process.env);
const stats = new FlowStats(Math.ceil(boot.durationMs / 1000) + 60);
const generator = new TrafficGenerator(boot.target, boot.seed, boot.ports, undefined, {
  answered: (r) => stats.add(r.flow.id, Date.now(), NO_SEGMENT, r.status, r.latencyMs, r.degraded),
});

const began = performance.now();
process.stderr.write(`mesh-sim traffic: ${boot.flows.length} flows to ${boot.target.host}:${boot.target.port} for ${Math.round(boot.durationMs / 1000)}s\n`);
generator.start(boot.flows, boot.durationMs);
const timers = boot.changes.map((change) => setTimeout(() => {
  process.stderr.write(`mesh-sim traffic: at ${Math.round(change.atMs / 1000)}s the flows change\n`);
  generator.setFlows(change.flows, began + change.atMs);
}, Math.max(0, began + change.atMs - performance.now())));

let finishing = false;
const finish = async () => {
  if (finishing) return;
  finishing = true;
  timers.forEach(clearTimeout);
  await generator.drain(5000);
  const seconds = (performance.now() - began) / 1000;
  const round1 = (n: number) => (Number.isFinite(n) ? Math.round(n * 10) / 10 : null);
  const flows = Object.fromEntries(stats.names().map((id) => {
    const f = stats.flow(id, undefined, seconds);
    return [id, { requests: f.requests, errors: f.errors, p50Ms: round1(f.p50Ms), p90Ms: round1(f.p90Ms), p99Ms: round1(f.p99Ms), statuses: f.statuses, degraded: f.degraded }];
  }));
  process.stdout.write(`${JSON.stringify({ flows, traffic: generator.counts })}\n`);
  process.exit(0);
};
setTimeout(() => void finish(), boot.durationMs);
process.on('SIGTERM', () => void finish());
process.on('SIGINT', () => void finish());
