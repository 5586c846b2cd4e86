// The embedded default runtime: every app and sidecar a local process on 127.0.0.1,
// no Docker needed. Each child is its own process group (Ctrl-C reaches mesh-sim, which
// stops them in order) and holds an IPC channel, so if mesh-sim dies they follow.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SIDECAR_ENV, type SidecarBoot } from '../../sidecar/boot.js';
import { WORKLOAD_ENV, type WorkloadBoot } from '../../workload/boot.js';
import { NAMESPACE } from '../../control/protocol.js';
import {
  InstanceStartError, otelEnvironment, type Address, type InstancePlan, type LogLine, type MeshEnvironment, type Observability,
  type Runtime, type RuntimeHooks, type RuntimePreparation, type StartedInstance,
} from '../runtime.js';
import { freePorts } from './ports.js';
import { LineSplitter } from '../lines.js';
import { RunRecord, removeProcessRuns } from '../run-record.js';
import { plural } from '../../words.js';
import { findOnPath } from '../which.js';
import { LocalPrometheus } from './local-prometheus.js';
import { memberExited, newPod, relaunched, rememberLine, type PodMember, type PodState } from '../pod.js';

const SIDECAR_MAIN = fileURLToPath(new URL('../../sidecar/main.js', import.meta.url));
const WORKLOAD_MAIN = fileURLToPath(new URL('../../workload/main.js', import.meta.url));
const LOOPBACK = '127.0.0.1';
/**
 * Flags for the children's node. None for now: a smaller young generation saved a few
 * MB per process at light load but cost a quarter of a sidecar's throughput under load
 * (npm run bench).
 */
const CHILD_NODE_FLAGS: string[] = [];

interface Member extends PodMember {
  child: ChildProcess;
  exited: Promise<void>;
  /** A user's command runs in its own process group, killed as a group. */
  group: boolean;
}

type Pod = PodState<Member> & { started: StartedInstance };

export class ProcessRuntime implements Runtime {
  readonly name = 'process' as const;
  private readonly pods = new Map<string, Pod>();
  private stopping = false;
  private readonly record: RunRecord;
  private prometheus: LocalPrometheus | undefined;

  constructor(private readonly hooks: RuntimeHooks, runId: string) {
    this.record = new RunRecord(runId, 'process');
  }

  async prepare(progress: (message: string) => void): Promise<RuntimePreparation> {
    const left = await removeProcessRuns('dead', this.record.runId);
    if (left.processes > 0) progress(`stopped ${plural(left.processes, 'process', 'processes')} left by ${plural(left.runs, 'earlier run')} whose mesh-sim is gone`);
    await this.record.write();
    return { listenHosts: [LOOPBACK], controlHost: LOOPBACK };
  }

  async start(plan: InstancePlan, env: MeshEnvironment): Promise<StartedInstance> {
    if (plan.kind === 'image') {
      throw new InstanceStartError(plan.id, `${plan.service} brings its own image (${plan.image}), which the process runtime cannot run: use --runtime docker, or give it a \`command\``);
    }
    const pod = newPod<Member>(plan, env) as Pod;
    this.pods.set(plan.id, pod);
    await this.launch(pod);
    return pod.started;
  }

  private async launch(pod: Pod): Promise<void> {
    const { plan, env } = pod;
    relaunched(pod);
    pod.members = [];
    const [appPort, inbound, outbound, admin] = await freePorts(4);
    const controlUrl = env.controlUrl;
    if (plan.kind === 'sample') {
      const boot: WorkloadBoot = {
        instance: plan.id,
        service: plan.service,
        version: plan.version,
        listen: { host: LOOPBACK, port: appPort! },
        proxy: { host: LOOPBACK, port: outbound! },
        controlUrl,
        controlSecret: env.controlSecret,
        initial: env.initialWorkload(plan),
      };
      this.spawnMember(pod, 'app', process.execPath, [...CHILD_NODE_FLAGS, WORKLOAD_MAIN], { [WORKLOAD_ENV]: JSON.stringify(boot) }, false);
    } else if (plan.kind === 'command') {
      const proxy = `http://${LOOPBACK}:${outbound}`;
      this.spawnMember(pod, 'app', '/bin/sh', ['-c', plan.command!], {
        PORT: String(appPort), HTTP_PROXY: proxy, http_proxy: proxy, NO_PROXY: '', MESH_SIM_INSTANCE: plan.id,
        MESH_SIM_SERVICE: plan.service, MESH_SIM_VERSION: plan.version, ...otelEnvironment(controlUrl, plan, env.controlSecret),
      }, true);
    }
    const boot: SidecarBoot = {
      instance: plan.id,
      service: plan.service,
      version: plan.version,
      namespace: NAMESPACE,
      workload: plan.workload,
      servicePort: plan.servicePort,
      mode: plan.kind === 'gateway' ? 'gateway' : 'sidecar',
      listen: { host: LOOPBACK, inbound: inbound!, outbound: outbound!, admin: admin! },
      app: plan.kind === 'gateway' ? undefined : { host: LOOPBACK, port: appPort! },
      controlUrl,
      controlSecret: env.controlSecret,
    };
    this.spawnMember(pod, 'sidecar', process.execPath, [...CHILD_NODE_FLAGS, SIDECAR_MAIN], { [SIDECAR_ENV]: JSON.stringify(boot) }, false);
    pod.started = {
      id: plan.id,
      endpoint: { host: LOOPBACK, port: inbound! },
      ingress: plan.kind === 'gateway' ? { host: LOOPBACK, port: outbound! } : undefined,
      admin: { host: LOOPBACK, port: admin! },
    };
    await this.remember();
    await this.prometheus?.setTargets(this.adminAddresses());
  }

  /** The run record names everything to kill should mesh-sim die without stopping it. */
  private async remember(): Promise<void> {
    const prometheus = this.prometheus?.pid;
    const members = prometheus === undefined ? this.allPids() : [...this.allPids(), { pid: prometheus, group: true }];
    await this.record.setMembers(members, this.prometheus?.dir ? [this.prometheus.dir] : []);
  }

  private spawnMember(pod: Pod, container: Member['container'], file: string, args: string[], extraEnv: Record<string, string>, group: boolean): void {
    const child = spawn(file, args, {
      env: { ...process.env, ...extraEnv, NODE_OPTIONS: '' },
      stdio: group ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: true,
    });
    const member: Member = { container, child, lastWords: [], group, exited: undefined as unknown as Promise<void> };
    const emit = (stream: LogLine['stream']) => (text: string) => {
      if (stream === 'stderr') rememberLine(member, text);
      this.hooks.onLog({ instance: pod.plan.id, container, stream, text });
    };
    child.stdout?.pipe(new LineSplitter(emit('stdout')));
    child.stderr?.pipe(new LineSplitter(emit('stderr')));
    member.exited = new Promise((resolve) => {
      // 'close' comes after 'exit' once its output is read to the end: no last line is lost.
      child.once('close', (code, signal) => {
        // One exit report per pod: the first member to go takes the pod down with it.
        if (pod.members.includes(member)) memberExited(pod, member, { code, signal }, this.stopping, (other) => this.signal(other, 'SIGTERM'), this.hooks);
        resolve();
      });
      child.once('error', (error) => {
        rememberLine(member, error.message);
        resolve();
      });
    });
    pod.members.push(member);
  }

  private signal(member: Member, signal: NodeJS.Signals): void {
    const { child } = member;
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    try {
      if (member.group) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      // Already gone.
    }
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
      await this.remember();
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

  async kill(id: string): Promise<void> {
    const pod = this.pods.get(id);
    if (!pod) return;
    pod.expectExit = true;
    for (const member of pod.members) this.signal(member, 'SIGKILL');
    await Promise.all(pod.members.map((m) => m.exited));
  }

  async restart(id: string): Promise<StartedInstance> {
    const pod = this.pods.get(id);
    if (!pod) throw new InstanceStartError(id, `no instance ${id}`);
    if (pod.members.some((m) => m.child.exitCode === null && m.child.signalCode === null)) await this.kill(id);
    await this.launch(pod);
    return pod.started;
  }

  async stop(graceMs = 4000): Promise<void> {
    this.stopping = true;
    const members = [...this.pods.values()].flatMap((p) => p.members);
    for (const member of members) this.signal(member, 'SIGTERM');
    const all = Promise.all(members.map((m) => m.exited));
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([all.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)))]);
    clearTimeout(timer);
    if (late) {
      for (const member of members) this.signal(member, 'SIGKILL');
      await all;
    }
    await this.prometheus?.stop();
    await this.record.remove();
  }

  private allPids(): Array<{ pid: number; group: boolean }> {
    return [...this.pods.values()].flatMap((p) => p.members).filter((m) => m.child.pid !== undefined).map((m) => ({ pid: m.child.pid!, group: m.group }));
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
