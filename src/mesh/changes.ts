// What changed between two states of a scenario, as `kubectl diff` would say it: Istio
// resources created, configured or deleted (by kind, namespace and name), services'
// behaviour and replicas, traffic flows, and which pods that means starting, stopping or
// replacing. Pure: the live edit (`up --watch`) narrates it and acts on it.

import type { InstancePlan } from '../runtime/runtime.js';
import type { Scenario, ServiceSpec, TrafficFlow, VersionSpec } from '../scenario/model.js';
import { describeResource, resourceKey } from '../istio/resources.js';
import { planInstances } from './plan.js';

export interface ScenarioChanges {
  /** One line per change, in kubectl's words: `VirtualService reviews configured`. */
  lines: string[];
  /** Pods the new state has and the old did not. */
  start: InstancePlan[];
  /** Pods the old state had and the new does not. */
  stop: InstancePlan[];
  /** Pods that keep their name but must start again (a new command, image, port or sidecar). */
  replace: InstancePlan[];
  /** True when nothing the mesh runs on changed. */
  empty: boolean;
}

/** Serialized for comparison: key order as written is part of neither YAML's nor Istio's meaning, but is stable per file. */
function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function resourceLines(before: Scenario, after: Scenario): string[] {
  const old = new Map(before.istio.map((r) => [resourceKey(r), r]));
  const now = new Map(after.istio.map((r) => [resourceKey(r), r]));
  const lines: string[] = [];
  for (const [key, r] of now) {
    const was = old.get(key);
    if (!was) lines.push(`${describeResource(r)} created`);
    else if (!same(was.raw, r.raw)) lines.push(`${describeResource(r)} configured`);
  }
  for (const [key, r] of old) if (!now.has(key)) lines.push(`${describeResource(r)} deleted`);
  return lines;
}

function behaviourOf(v: VersionSpec): unknown {
  const { replicas: _replicas, where: _where, ...behaviour } = v;
  return behaviour;
}

function serviceLines(before: Scenario, after: Scenario): string[] {
  const old = new Map(before.services.map((s) => [s.name, s]));
  const lines: string[] = [];
  for (const service of after.services) {
    const was = old.get(service.name);
    if (!was) {
      lines.push(`service ${service.name} created (${versionList(service)})`);
      continue;
    }
    const oldVersions = new Map(was.versions.map((v) => [v.name, v]));
    for (const version of service.versions) {
      const previous = oldVersions.get(version.name);
      const name = `${service.name} ${version.name}`;
      if (!previous) lines.push(`${name} created (${replicas(version.replicas)})`);
      else {
        if (previous.replicas !== version.replicas) lines.push(`${name} scaled from ${previous.replicas} to ${version.replicas}`);
        if (!same(behaviourOf(previous), behaviourOf(version))) lines.push(`${name} behaviour changed`);
      }
    }
    for (const version of was.versions) {
      if (!service.versions.some((v) => v.name === version.name)) lines.push(`${service.name} ${version.name} deleted`);
    }
    if (was.port !== service.port) lines.push(`service ${service.name} port ${was.port ?? 'default'} → ${service.port ?? 'default'}`);
    if (was.sidecar !== service.sidecar) lines.push(`service ${service.name} ${service.sidecar ? 'joins the mesh (sidecar injected)' : 'leaves the mesh (no sidecar)'}`);
  }
  for (const service of before.services) {
    if (!after.services.some((s) => s.name === service.name)) lines.push(`service ${service.name} deleted`);
  }
  return lines;
}

function versionList(service: ServiceSpec): string {
  return service.versions.map((v) => `${v.name}×${v.replicas}`).join(', ');
}

function replicas(n: number): string {
  return n === 1 ? '1 replica' : `${n} replicas`;
}

function flowRate(flow: TrafficFlow): string {
  if (flow.concurrency !== undefined) return `${flow.concurrency} in flight${flow.rps !== undefined ? ` at most ${flow.rps} rps` : ''}`;
  return flow.rps === undefined ? 'as fast as answers come' : `${flow.rps} rps`;
}

function trafficLines(before: Scenario, after: Scenario): string[] {
  const old = new Map(before.traffic.map((f) => [f.id, f]));
  const lines: string[] = [];
  for (const flow of after.traffic) {
    const was = old.get(flow.id);
    const { where: _w, ...now } = flow;
    if (!was) lines.push(`traffic ${flow.id} created (${flowRate(flow)} to ${flow.to}${flow.path})`);
    else {
      const { where: _v, ...then } = was;
      if (same(then, now)) continue;
      const rate = flowRate(was) !== flowRate(flow) ? ` ${flowRate(was)} → ${flowRate(flow)}` : '';
      lines.push(`traffic ${flow.id} configured${rate}`);
    }
  }
  for (const flow of before.traffic) if (!after.traffic.some((f) => f.id === flow.id)) lines.push(`traffic ${flow.id} deleted`);
  return lines;
}

/** What a pod runs as: a change in any of these needs the pod started again. */
function podShape(plan: InstancePlan): unknown {
  return [plan.kind, plan.command, plan.image, plan.servicePort, plan.sidecar];
}

export function scenarioChanges(before: Scenario, after: Scenario): ScenarioChanges {
  const oldPlans = new Map(planInstances(before).map((p) => [p.id, p]));
  const newPlans = planInstances(after);
  const start = newPlans.filter((p) => !oldPlans.has(p.id));
  const stop = [...oldPlans.values()].filter((p) => !newPlans.some((n) => n.id === p.id));
  const replace = newPlans.filter((p) => oldPlans.has(p.id) && !same(podShape(oldPlans.get(p.id)!), podShape(p)));
  const lines = [...resourceLines(before, after), ...serviceLines(before, after), ...trafficLines(before, after)];
  if (before.name !== after.name) lines.unshift(`renamed ${before.name} → ${after.name}`);
  return { lines, start, stop, replace, empty: lines.length === 0 && start.length + stop.length + replace.length === 0 };
}
