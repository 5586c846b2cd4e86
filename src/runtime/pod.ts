// What both runtimes do the same way with a pod (an app and its sidecar): remember each
// member's last words, and report the pod's exit once per launch, stopping the rest of
// the pod when one member dies on its own, as Kubernetes would restart nothing silently.

import type { ExitInfo, InstancePlan, MeshEnvironment, RuntimeHooks, StartedInstance } from './runtime.js';

/** How many of a member's last stderr lines explain an unexpected exit. */
const LAST_WORDS = 12;

export interface PodMember {
  /** Which container of the pod: `app` or `sidecar` (the gateway counts as a sidecar). */
  container: 'app' | 'sidecar';
  lastWords: string[];
}

export interface PodState<M extends PodMember> {
  plan: InstancePlan;
  env: MeshEnvironment;
  members: M[];
  /** mesh-sim asked for this pod's end (a timeline kill, or a stop). */
  expectExit: boolean;
  /** The pod's exit has been reported for this launch. */
  exitReported: boolean;
  started: StartedInstance | undefined;
}

export function newPod<M extends PodMember>(plan: InstancePlan, env: MeshEnvironment): PodState<M> {
  return { plan, env, members: [], expectExit: false, exitReported: false, started: undefined };
}

/** A fresh launch: nothing expected to end, nothing reported yet. */
export function relaunched(pod: PodState<PodMember>): void {
  pod.expectExit = false;
  pod.exitReported = false;
}

export function rememberLine(member: PodMember, line: string): void {
  member.lastWords.push(line);
  if (member.lastWords.length > LAST_WORDS) member.lastWords.shift();
}

/**
 * A member ended. The first to end reports the pod's exit; if nobody asked for it,
 * the rest of the pod is stopped too (`stop`), as a pod whose container died.
 */
export function memberExited<M extends PodMember>(
  pod: PodState<M>, member: M, exit: { code: number | null; signal: string | null }, stopping: boolean,
  stop: (other: M) => void, hooks: RuntimeHooks,
): void {
  if (pod.exitReported) return;
  pod.exitReported = true;
  const expected = pod.expectExit || stopping;
  if (!expected) {
    pod.expectExit = true;
    for (const other of pod.members) if (other !== member) stop(other);
  }
  const info: ExitInfo = { ...exit, expected, lastWords: member.lastWords.map((l) => `${member.container}: ${l}`) };
  hooks.onExit(pod.plan.id, info);
}
