// What every runtime does the same way with its pods (an app and its sidecar): start
// them from a pod spec (refusing once stopping, and remembered until they settle so a
// stop can wait for them), kill and restart them, remember each member's last words,
// and report a pod's exit once per launch, stopping the rest of the pod when one member
// dies on its own, as Kubernetes would restart nothing silently. A runtime supplies only
// how to launch a pod and signal a member.

import { InFlight } from './in-flight.js';
import { InstanceStartError, type ExitInfo, type InstancePlan, type MeshEnvironment, type RuntimeHooks, type StartedInstance } from './runtime.js';

/** How many of a member's last stderr lines explain an unexpected exit. */
const LAST_WORDS = 12;
/** The longest a stop waits for starts under way before removing what they made. */
export const START_SETTLE_MS = 30_000;

export interface PodMember {
  /** Which container of the pod: `app` or `sidecar` (the gateway counts as a sidecar). */
  container: 'app' | 'sidecar';
  lastWords: string[];
  /** Resolves when this launch of the member has ended. */
  exited: Promise<void>;
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

export abstract class PodRuntime<M extends PodMember> {
  protected readonly pods = new Map<string, PodState<M>>();
  protected stopping = false;
  private readonly starts = new InFlight();

  constructor(protected readonly hooks: RuntimeHooks) {}

  /** Starts (or restarts) the pod's members and fills in `pod.started`. */
  protected abstract launch(pod: PodState<M>): Promise<void>;
  /** Sends a member a signal; a member already gone is not an error. */
  protected abstract signal(member: M, signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Whether any member of the pod is still running. */
  protected abstract running(pod: PodState<M>): Promise<boolean>;
  /** Why this runtime cannot run a plan at all, if it cannot. */
  protected abstract refuse(plan: InstancePlan): string | undefined;

  start(plan: InstancePlan, env: MeshEnvironment): Promise<StartedInstance> {
    return this.starts.track((async () => {
      const why = this.refuse(plan);
      if (why) throw new InstanceStartError(plan.id, why);
      if (this.stopping) throw new InstanceStartError(plan.id, `${plan.id} was not started: the mesh is stopping`);
      const pod: PodState<M> = { plan, env, members: [], expectExit: false, exitReported: false, started: undefined };
      this.pods.set(plan.id, pod);
      await this.launch(pod);
      return pod.started!;
    })());
  }

  async kill(id: string): Promise<void> {
    const pod = this.pods.get(id);
    if (!pod) return;
    pod.expectExit = true;
    await Promise.all(pod.members.map((m) => this.signal(m, 'SIGKILL')));
    await Promise.all(pod.members.map((m) => m.exited));
  }

  async restart(id: string): Promise<StartedInstance> {
    const pod = this.pods.get(id);
    if (!pod) throw new InstanceStartError(id, `no instance ${id}`);
    if (await this.running(pod)) await this.kill(id);
    await this.starts.track(this.launch(pod));
    return pod.started!;
  }

  /** Marks the runtime stopping and waits (bounded) for starts under way, so what they make is stopped too. */
  protected async beginStop(): Promise<void> {
    this.stopping = true;
    await this.starts.settle(START_SETTLE_MS);
  }

  protected allMembers(): M[] {
    return [...this.pods.values()].flatMap((p) => p.members);
  }

  /**
   * Stops one pod for good, as a Deployment scaled down does: SIGTERM (its sidecar
   * flushes), SIGKILL after `graceMs`, then it is forgotten and its leftovers removed.
   */
  async remove(id: string, graceMs = 4000): Promise<void> {
    const pod = this.pods.get(id);
    if (!pod) return;
    pod.expectExit = true;
    await this.terminate(pod.members, graceMs);
    if (this.pods.get(id) === pod) this.pods.delete(id);
    await this.forget(pod);
  }

  /** What a runtime removes once a pod is gone for good (containers, placement, scrape targets). */
  protected async forget(_pod: PodState<M>): Promise<void> {}

  /** SIGTERM to every member, SIGKILL to those still there after `graceMs`. */
  protected async stopMembers(graceMs: number): Promise<void> {
    await this.terminate(this.allMembers(), graceMs);
  }

  private async terminate(members: M[], graceMs: number): Promise<void> {
    await Promise.all(members.map((m) => this.signal(m, 'SIGTERM')));
    const all = Promise.all(members.map((m) => m.exited));
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([all.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)))]);
    clearTimeout(timer);
    if (late) {
      await Promise.all(members.map((m) => this.signal(m, 'SIGKILL')));
      await Promise.race([all, new Promise((r) => setTimeout(r, 5000))]);
    }
  }

  /** A fresh launch: nothing expected to end, nothing reported yet. */
  protected relaunched(pod: PodState<M>): void {
    pod.expectExit = false;
    pod.exitReported = false;
  }

  /**
   * A member ended. The first to end reports the pod's exit; if nobody asked for it,
   * the rest of the pod is stopped too, as a pod whose container died.
   */
  protected memberExited(pod: PodState<M>, member: M, exit: { code: number | null; signal: string | null }): void {
    if (pod.exitReported || !pod.members.includes(member)) return;
    pod.exitReported = true;
    const expected = pod.expectExit || this.stopping;
    if (!expected) {
      pod.expectExit = true;
      for (const other of pod.members) if (other !== member) void this.signal(other, 'SIGTERM');
    }
    const info: ExitInfo = { ...exit, expected, lastWords: member.lastWords.map((l) => `${member.container}: ${l}`) };
    this.hooks.onExit(pod.plan.id, info);
  }

  /** A member's output line: kept as last words if on stderr, and passed on. */
  protected output(pod: PodState<M>, member: M, stream: 'stdout' | 'stderr', text: string): void {
    if (stream === 'stderr') {
      member.lastWords.push(text);
      if (member.lastWords.length > LAST_WORDS) member.lastWords.shift();
    }
    this.hooks.onLog({ instance: pod.plan.id, container: member.container, stream, text });
  }

  /** A member's own failure to run (spawn error): part of its last words. */
  protected remember(member: M, line: string): void {
    member.lastWords.push(line);
    if (member.lastWords.length > LAST_WORDS) member.lastWords.shift();
  }
}
