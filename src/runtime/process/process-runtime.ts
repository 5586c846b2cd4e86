// The embedded default runtime: every app and sidecar a local process on 127.0.0.1,
// no Docker needed. It carries out pod specs (src/runtime/pod-spec.ts): each member is
// spawned in its own process group (Ctrl-C reaches mesh-sim, which stops them in
// order). mesh-sim's own programs hold an IPC channel, so if mesh-sim dies they follow;
// a user's command is killed as a group by the run's reaper (src/runtime/reaper.ts).

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Address, InstancePlan, Observability, Runtime, RuntimeDefinition, RuntimeHooks, RuntimePreparation } from '../runtime.js';
import { freePorts } from './ports.js';
import { LineSplitter } from '../lines.js';
import { RunRecord, removeProcessRuns } from '../run-record.js';
import { plural } from '../../words.js';
import { findOnPath } from '../which.js';
import { LocalPrometheus } from './local-prometheus.js';
import { PodRuntime, type PodMember, type PodState } from '../pod.js';
import { podSpec, type ContainerSpec } from '../pod-spec.js';

const PROGRAMS = {
  sidecar: fileURLToPath(new URL('../../sidecar/main.js', import.meta.url)),
  workload: fileURLToPath(new URL('../../workload/main.js', import.meta.url)),
};
const LOOPBACK = '127.0.0.1';
/**
 * Flags for the children's node. None for now: a smaller young generation saved a few
 * MB per process at light load but cost a quarter of a sidecar's throughput under load
 * (npm run bench).
 */
const CHILD_NODE_FLAGS: string[] = [];

interface Member extends PodMember {
  child: ChildProcess;
  /** A user's command runs in its own process group, killed as a group. */
  group: boolean;
}

type Pod = PodState<Member>;

export class ProcessRuntime extends PodRuntime<Member> implements Runtime {
  readonly name = 'process' as const;
  private readonly record: RunRecord;
  private prometheus: LocalPrometheus | undefined;

  constructor(hooks: RuntimeHooks, runId: string) {
    super(hooks);
    this.record = new RunRecord(runId, 'process');
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

  protected async launch(pod: Pod): Promise<void> {
    this.relaunched(pod);
    pod.members = [];
    const [app, inbound, outbound, admin] = await freePorts(4);
    const spec = podSpec(pod.plan, pod.env, {
      ports: { app: app!, inbound: inbound!, outbound: outbound!, admin: admin! },
      listenHost: LOOPBACK,
      outboundHost: LOOPBACK,
    });
    for (const container of spec.containers) this.spawnMember(pod, container);
    pod.started = {
      id: pod.plan.id,
      endpoint: { host: LOOPBACK, port: spec.ports.inbound },
      ingress: pod.plan.kind === 'gateway' ? { host: LOOPBACK, port: spec.ports.outbound } : undefined,
      admin: { host: LOOPBACK, port: spec.ports.admin },
    };
    await this.rememberAll();
    await this.prometheus?.setTargets(this.adminAddresses());
  }

  /** The run record names everything to kill should mesh-sim die without stopping it. */
  private async rememberAll(): Promise<void> {
    const prometheus = this.prometheus?.pid;
    const members = prometheus === undefined ? this.allPids() : [...this.allPids(), { pid: prometheus, group: true }];
    await this.record.setMembers(members, this.prometheus?.dir ? [this.prometheus.dir] : []);
  }

  private spawnMember(pod: Pod, container: ContainerSpec): void {
    const { program } = container;
    if (program.kind === 'image') throw new Error('unreachable: the process runtime refuses images');
    const group = program.kind === 'shell';
    const [file, args] = program.kind === 'shell' ? ['/bin/sh', ['-c', program.command]] : [process.execPath, [...CHILD_NODE_FLAGS, PROGRAMS[program.kind]]];
    const child = spawn(file, args, {
      env: { ...process.env, ...container.env, NODE_OPTIONS: '' },
      stdio: group ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: true,
    });
    const member: Member = { container: container.name, child, lastWords: [], group, exited: Promise.resolve() };
    child.stdout?.pipe(new LineSplitter((text) => this.output(pod, member, 'stdout', text)));
    child.stderr?.pipe(new LineSplitter((text) => this.output(pod, member, 'stderr', text)));
    member.exited = new Promise((resolve) => {
      // 'close' comes after 'exit' once its output is read to the end: no last line is lost.
      child.once('close', (code, signal) => {
        this.memberExited(pod, member, { code, signal });
        resolve();
      });
      child.once('error', (error) => {
        this.remember(member, error.message);
        resolve();
      });
    });
    pod.members.push(member);
  }

  protected async signal(member: Member, signal: NodeJS.Signals): Promise<void> {
    const { child } = member;
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    try {
      if (member.group) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      // Already gone.
    }
  }

  protected async running(pod: Pod): Promise<boolean> {
    return pod.members.some((m) => m.child.exitCode === null && m.child.signalCode === null);
  }

  async startObservability(progress: (message: string) => void, options: { scrapeIntervalSeconds: number }): Promise<Observability> {
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
    await this.prometheus?.stop();
    await this.record.remove();
  }

  private allPids(): Array<{ pid: number; group: boolean }> {
    return this.allMembers().filter((m) => m.child.pid !== undefined).map((m) => ({ pid: m.child.pid!, group: m.group }));
  }

  /** Every process id this runtime has started (for tests and `down`). */
  pids(): number[] {
    return this.allPids().map((p) => p.pid);
  }

  /** Process ids by instance: app first, then sidecar (the gateway has only a sidecar). */
  pidsByInstance(): Map<string, number[]> {
    return new Map([...this.pods].map(([id, pod]) => [id, pod.members.flatMap((m) => (m.child.pid === undefined ? [] : [m.child.pid]))]));
  }
}

export const processRuntime: RuntimeDefinition = {
  name: 'process',
  summary: 'every app and sidecar a local process on 127.0.0.1 (the default; no Docker needed)',
  create: (hooks, runId) => new ProcessRuntime(hooks, runId),
  async cleanup(scope) {
    const { runs, processes } = await removeProcessRuns(scope);
    return { runs, removed: processes > 0 ? `${plural(processes, 'process', 'processes')} of the process runtime` : '', reachable: true };
  },
};
