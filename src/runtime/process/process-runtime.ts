// The embedded default runtime: every pod on 127.0.0.1, no Docker needed. It carries
// out pod specs (src/runtime/pod-spec.ts) as Kubernetes packs pods onto nodes: a few
// node processes (one per core unless --nodes says otherwise) each host many pods'
// sidecars and sample workloads on one event loop (node-main.ts), each pod with its own
// listeners and ports. A user's `command:` runs as a process of its own, in its own
// process group. Nodes hold an IPC channel, so if mesh-sim dies they follow; the run's
// reaper (src/runtime/reaper.ts) kills a user's command and Prometheus by group.

import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { Address, InstancePlan, MeshEnvironment, Observability, ObservabilityOptions, Runtime, RuntimeDefinition, RuntimeHooks, RuntimeOptions, RuntimePreparation } from '../runtime.js';
import { freePorts, releasePorts } from './ports.js';
import { LineSplitter } from '../lines.js';
import { RunRecord, removeProcessRuns } from '../run-record.js';
import { plural } from '../../words.js';
import { findOnPath } from '../which.js';
import { LocalPrometheus } from './local-prometheus.js';
import { PodRuntime, type PodMember, type PodState } from '../pod.js';
import { podSpec, type ContainerSpec } from '../pod-spec.js';
import { NodeProcess, type NodeListener } from './node-process.js';

const LOOPBACK = '127.0.0.1';
/** How often a node's span batch goes to the collector. */
const NODE_FLUSH_MS = 1000;
export const MAX_NODES = 64;

interface Member extends PodMember {
  /** Hosted on a node (a sidecar or sample workload), or a process of its own (a user's command). */
  node: NodeProcess | undefined;
  child: ChildProcess | undefined;
  /** Which launch of its pod this member belongs to. */
  launch: number;
  running: boolean;
  ended: () => void;
}

type Pod = PodState<Member> & { launches: number; ports?: number[] };

export class ProcessRuntime extends PodRuntime<Member> implements Runtime, NodeListener {
  readonly name = 'process' as const;
  private readonly record: RunRecord;
  private prometheus: LocalPrometheus | undefined;
  private nodes: NodeProcess[] = [];
  private nodesStarting: Promise<NodeProcess[]> | undefined;
  private readonly nodeCount: number;

  constructor(hooks: RuntimeHooks, runId: string, options: RuntimeOptions = {}) {
    super(hooks);
    this.record = new RunRecord(runId, 'process');
    this.nodeCount = Math.max(1, Math.min(MAX_NODES, options.nodes ?? availableParallelism()));
  }

  async prepare(progress: (message: string) => void): Promise<RuntimePreparation> {
    const left = await removeProcessRuns('dead', this.record.runId);
    if (left.processes > 0) progress(`stopped ${plural(left.processes, 'process', 'processes')} left by ${plural(left.runs, 'earlier run')} whose mesh-sim is gone`);
    await this.record.write();
    return { listenHosts: [LOOPBACK], controlHost: LOOPBACK };
  }

  protected refuse(plan: InstancePlan): string | undefined {
    if (plan.kind === 'image') {
      return `${plan.service} brings its own image (${plan.image}), which the process runtime cannot run: use --runtime docker, or give it a \`command\``;
    }
    return undefined;
  }

  /** The nodes, started on first use: they need the control plane's address. */
  private ensureNodes(env: MeshEnvironment): Promise<NodeProcess[]> {
    this.nodesStarting ??= (async () => {
      this.nodes = Array.from({ length: this.nodeCount }, (_, i) => new NodeProcess(
        { node: `node-${i}`, controlUrl: env.controlUrl, controlSecret: env.controlSecret, flushMs: NODE_FLUSH_MS }, this,
      ));
      await this.rememberAll();
      await Promise.all(this.nodes.map((n) => n.ready));
      return this.nodes;
    })();
    return this.nodesStarting;
  }

  /** The node with the fewest pods takes the next one, as a scheduler spreads them. */
  private place(nodes: NodeProcess[]): NodeProcess {
    return nodes.filter((n) => n.alive).reduce((best, n) => (n.pods.size < best.pods.size ? n : best), nodes.find((n) => n.alive) ?? nodes[0]!);
  }

  protected async launch(podState: PodState<Member>): Promise<void> {
    const pod = podState as Pod;
    this.relaunched(pod);
    pod.launches = (pod.launches ?? 0) + 1;
    const launch = pod.launches;
    pod.members = [];
    // A relaunched pod's old listeners are gone: its ports go back to the pool.
    if (pod.ports) releasePorts(pod.ports);
    pod.ports = await freePorts(4);
    const [app, inbound, outbound, admin] = pod.ports;
    const spec = podSpec(pod.plan, pod.env, {
      ports: { app: app!, inbound: inbound!, outbound: outbound!, admin: admin! },
      listenHost: LOOPBACK,
      outboundHost: LOOPBACK,
    });
    const hosted = spec.containers.filter((c) => c.program.kind === 'sidecar' || c.program.kind === 'workload');
    const node = hosted.length > 0 ? this.place(await this.ensureNodes(pod.env)) : undefined;
    for (const container of spec.containers) {
      if (container.program.kind === 'shell') this.spawnCommand(pod, container, launch);
      else if (node) pod.members.push(this.member(container.name, node, undefined, launch));
    }
    if (node) {
      for (const n of this.nodes) n.pods.delete(pod.plan.id);
      node.start(pod.plan.id, launch, hosted.map((c) => ({ name: c.name, program: c.program.kind as 'sidecar' | 'workload', env: c.env })));
    }
    pod.started = {
      id: pod.plan.id,
      endpoint: { host: LOOPBACK, port: spec.ports.inbound },
      ingress: pod.plan.kind === 'gateway' ? { host: LOOPBACK, port: spec.ports.outbound } : undefined,
      admin: { host: LOOPBACK, port: spec.ports.admin },
    };
    await this.rememberAll();
    await this.prometheus?.setTargets(this.adminAddresses());
  }

  private member(container: ContainerSpec['name'], node: NodeProcess | undefined, child: ChildProcess | undefined, launch: number): Member {
    let ended = () => {};
    const exited = new Promise<void>((resolve) => (ended = resolve));
    return { container, node, child, launch, running: true, lastWords: [], exited, ended };
  }

  /** A user's command: a process of its own, in its own process group. */
  private spawnCommand(pod: Pod, container: ContainerSpec, launch: number): void {
    if (container.program.kind !== 'shell') return;
    const child = spawn('/bin/sh', ['-c', container.program.command], {
      env: { ...process.env, ...container.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const member = this.member(container.name, undefined, child, launch);
    child.stdout?.pipe(new LineSplitter((text) => this.output(pod, member, 'stdout', text)));
    child.stderr?.pipe(new LineSplitter((text) => this.output(pod, member, 'stderr', text)));
    // 'close' comes after 'exit' once its output is read to the end: no last line is lost.
    child.once('close', (code, signal) => this.ended(pod, member, code, signal));
    child.once('error', (error) => {
      this.remember(member, error.message);
      this.ended(pod, member, 127, null);
    });
    pod.members.push(member);
  }

  private ended(pod: PodState<Member>, member: Member, code: number | null, signal: string | null): void {
    if (!member.running) return;
    member.running = false;
    this.memberExited(pod, member, { code, signal });
    member.ended();
  }

  private find(podId: string, container: string, launch?: number): { pod: PodState<Member>; member: Member } | undefined {
    const pod = this.pods.get(podId);
    const member = pod?.members.find((m) => m.container === container && (launch === undefined || m.launch === launch));
    return pod && member ? { pod, member } : undefined;
  }

  // ---- what the nodes report ----

  exit(podId: string, container: 'app' | 'sidecar', launch: number, code: number | null, signal: string | null): void {
    const found = this.find(podId, container, launch);
    if (found) this.ended(found.pod, found.member, code, signal);
  }

  line(podId: string, container: 'app' | 'sidecar', stream: 'stdout' | 'stderr', text: string): void {
    const found = this.find(podId, container);
    if (found) this.output(found.pod, found.member, stream, text);
  }

  load(node: string, busy: number): void {
    this.hooks.onLoad?.(node, busy);
  }

  nodeExit(node: NodeProcess, code: number | null, signal: string | null, lastWords: string[]): void {
    for (const pod of this.pods.values()) {
      for (const member of pod.members) {
        if (member.node !== node || !member.running) continue;
        for (const words of lastWords) this.remember(member, `(its node) ${words}`);
        this.ended(pod, member, code, signal);
      }
    }
  }

  // ---- signals ----

  protected async signal(member: Member, signal: NodeJS.Signals): Promise<void> {
    if (!member.running) return;
    if (member.node) {
      const pod = [...this.pods.values()].find((p) => p.members.includes(member));
      if (!pod) return;
      if (signal === 'SIGKILL') member.node.killContainer(pod.plan.id, member.container);
      else member.node.stopContainer(pod.plan.id, member.container);
      return;
    }
    const child = member.child;
    if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  }

  protected override async forget(pod: PodState<Member>): Promise<void> {
    for (const n of this.nodes) n.pods.delete(pod.plan.id);
    const { ports } = pod as Pod;
    if (ports) releasePorts(ports);
    await this.rememberAll();
    await this.prometheus?.setTargets(this.adminAddresses());
  }

  protected async running(pod: PodState<Member>): Promise<boolean> {
    return pod.members.some((m) => m.running);
  }

  /** The run record names everything to kill should mesh-sim die without stopping it. */
  private async rememberAll(): Promise<void> {
    const prometheus = this.prometheus?.pid;
    const members = prometheus === undefined ? this.allPids() : [...this.allPids(), { pid: prometheus, group: true }];
    await this.record.setMembers(members, this.prometheus?.dir ? [this.prometheus.dir] : []);
  }

  async startObservability(progress: (message: string) => void, options: ObservabilityOptions): Promise<Observability> {
    const binary = findOnPath('prometheus');
    const grafanaNote = 'Grafana runs with --runtime docker; its dashboards are in dashboards/ for a Grafana of your own';
    if (!binary) {
      return { prometheus: undefined, grafana: undefined, notes: ['no prometheus on PATH: install it (Debian: apt install prometheus) to query the mesh with PromQL', grafanaNote] };
    }
    this.prometheus = new LocalPrometheus(binary, this.record.runId);
    try {
      const url = await this.prometheus.start(this.adminAddresses(), options.scrapeIntervalSeconds);
      await this.rememberAll();
      progress(`Prometheus ${url} scraping ${this.adminAddresses().length} sidecars every ${options.scrapeIntervalSeconds}s`);
      return { prometheus: url, grafana: undefined, notes: [grafanaNote] };
    } catch (error) {
      await this.prometheus.stop();
      this.prometheus = undefined;
      return { prometheus: undefined, grafana: undefined, notes: [`Prometheus did not start: ${(error as Error).message}`, grafanaNote] };
    }
  }

  private adminAddresses(): Address[] {
    return [...this.pods.values()].flatMap((p) => (p.started?.admin ? [p.started.admin] : []));
  }

  async stop(graceMs = 4000): Promise<void> {
    await this.beginStop();
    await this.stopMembers(graceMs);
    await Promise.all(this.nodes.map((n) => n.close(3000)));
    await this.prometheus?.stop();
    await this.record.remove();
  }

  private allPids(): Array<{ pid: number; group: boolean }> {
    const nodes = this.nodes.filter((n) => n.pid !== undefined).map((n) => ({ pid: n.pid!, group: false }));
    const commands = this.allMembers().filter((m) => m.child?.pid !== undefined).map((m) => ({ pid: m.child!.pid!, group: true }));
    return [...nodes, ...commands];
  }

  /** Every process id this runtime has started: its nodes and users' commands (for tests and benchmarks). */
  pids(): number[] {
    return this.allPids().map((p) => p.pid);
  }

  /** How many node processes host the pods. */
  get nodeProcesses(): number {
    return this.nodes.length;
  }
}

export const processRuntime: RuntimeDefinition = {
  name: 'process',
  summary: 'pods packed on a few local node processes on 127.0.0.1 (the default; no Docker needed)',
  create: (hooks, runId, options) => new ProcessRuntime(hooks, runId, options),
  async cleanup(scope) {
    const { runs, processes } = await removeProcessRuns(scope);
    return { runs, removed: processes > 0 ? `${plural(processes, 'process', 'processes')} of the process runtime` : '', reachable: true };
  },
};
