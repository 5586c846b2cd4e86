// The Docker runtime: each instance a pod of two containers, the app and its sidecar
// sharing the app's network namespace (NetworkMode container:…), on one user-defined
// bridge network per run, found by Docker's DNS. It carries out pod specs
// (src/runtime/pod-spec.ts): every container's create body is data built from the spec
// before anything starts. The gateway, Prometheus and Grafana publish ports on
// 127.0.0.1 only. Nothing runs privileged; mesh-sim's own containers have read-only root
// file systems. Every container and the network carry labels, so the run's reaper,
// `mesh-sim down` or the next run removes what a dead run left.

import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../version.js';
import { plural } from '../../words.js';
import { findOnPath } from '../which.js';
import {
  InstanceStartError, RuntimeUnavailableError, type InstancePlan, type Observability, type ObservabilityOptions, type Runtime, type RuntimeDefinition, type RuntimeHooks,
  type RuntimePreparation,
} from '../runtime.js';
import { APP_IN_IMAGE, GRAFANA_IMAGE, IMAGE_USER, JAEGER_IMAGE, NODE_IN_IMAGE, ensureImage, ensureNodeImage, ensurePrometheusImage, tryPull } from './images.js';
import { removeRuns } from './cleanup.js';
import { runLabels, type Role } from './labels.js';
import { PodRuntime, type PodMember, type PodState } from '../pod.js';
import { podSpec, type ContainerSpec, type PodSpec } from '../pod-spec.js';
import { connectDocker, dockerError, type ContainerCreateBody, type DockerClient } from './client.js';

/** Ports inside a pod, as Istio's sidecar uses them. */
export const POD_PORTS = { inbound: 15006, outbound: 15001, admin: 15090 } as const;
/** The network alias every pod carries, so Prometheus finds all sidecars by DNS. */
export const SIDECAR_ALIAS = 'mesh-sim-sidecar';
/** A sidecar's NetworkMode until its app container exists: `container:<the app's id>`. */
const JOIN_APP = 'container:<app>';
/** The longest a pull of a user's image may take before the start fails. */
const PULL_TIMEOUT_MS = 60_000;

interface Member extends PodMember {
  role: Role;
  /** The container's id. */
  id: string;
}

type Pod = PodState<Member>;

/** A container to create: its create body, and the role it plays. */
interface ContainerPlan {
  role: Role;
  container: ContainerSpec['name'];
  body: ContainerCreateBody;
}

export class DockerRuntime extends PodRuntime<Member> implements Runtime {
  readonly name = 'docker' as const;
  private readonly docker: DockerClient;
  private readonly extras: string[] = [];
  private readonly networkName: string;
  private gateway = '';
  private image = '';

  constructor(hooks: RuntimeHooks, private readonly runId: string, docker?: DockerClient) {
    super(hooks);
    this.docker = docker ?? connectDocker();
    this.networkName = `mesh-sim-${runId}`;
  }

  async prepare(progress: (message: string) => void): Promise<RuntimePreparation> {
    await ensureDocker(this.docker);
    const left = await removeRuns(this.docker, 'dead', this.runId);
    if (left.containers + left.networks > 0) {
      progress(`removed ${plural(left.containers, 'container')} and ${plural(left.networks, 'network')} left by ${plural(left.runs.length, 'earlier run')} whose mesh-sim is gone`);
    }
    this.image = await ensureNodeImage(this.docker, progress);
    const network = await this.docker.networks.create(this.networkName, runLabels(this.runId, 'app'));
    this.gateway = network.gateway ?? '';
    if (!this.gateway) throw new RuntimeUnavailableError(`the Docker network ${this.networkName} has no gateway address to reach mesh-sim on`);
    progress(`network ${this.networkName}; containers reach mesh-sim's control plane at host.docker.internal (${this.gateway})`);
    // The hub listens on loopback and on this bridge's gateway, which only this host and its containers reach.
    return { listenHosts: ['127.0.0.1', this.gateway], controlHost: 'host.docker.internal' };
  }

  protected refuse(plan: InstancePlan): string | undefined {
    if (plan.kind === 'command') {
      return `${plan.service} brings its own command (${plan.command}), which the docker runtime cannot run: give it an \`image\`, or use --runtime process`;
    }
    if ((Object.values(POD_PORTS) as number[]).includes(plan.servicePort)) {
      return `${plan.service}'s port ${plan.servicePort} is one the sidecar uses in a pod (${Object.values(POD_PORTS).join(', ')}): give the service another port`;
    }
    return undefined;
  }

  /** Every container of a pod, as create bodies: data, built before anything is created. */
  containerPlans(spec: PodSpec): ContainerPlan[] {
    const { plan } = spec;
    const labels = (role: Role) => runLabels(this.runId, role, {
      ...spec.labels, 'mesh-sim.instance': plan.id, 'mesh-sim.service': plan.service, 'mesh-sim.version': plan.version,
    });
    const name = (role: Role) => `mesh-sim-${this.runId}-${plan.id}${role === 'sidecar' ? '-sidecar' : ''}`;
    const endpoint = { EndpointsConfig: { [this.networkName]: { Aliases: [plan.id, SIDECAR_ALIAS] } } };
    const ownNamespace = { NetworkMode: this.networkName, ExtraHosts: [`host.docker.internal:${this.gateway}`] };
    const out: ContainerPlan[] = [];
    for (const container of spec.containers) {
      const { program } = container;
      const Env = Object.entries(container.env).map(([k, v]) => `${k}=${v}`);
      if (plan.kind === 'gateway') {
        // The gateway's sidecar stands alone, publishing its way in on loopback, a free port.
        out.push({ role: 'gateway', container: 'sidecar', body: {
          ...this.meshSimProgram('sidecar'), name: name('gateway'), Env, Labels: labels('gateway'),
          ExposedPorts: { [`${spec.ports.outbound}/tcp`]: {} },
          HostConfig: hardened({ ...ownNamespace, PortBindings: { [`${spec.ports.outbound}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: '' }] } }, true),
          NetworkingConfig: endpoint,
        } });
      } else if (container.name === 'app') {
        // The app container owns the pod's network namespace (like Kubernetes' pause container).
        const own = program.kind === 'workload';
        out.push({ role: 'app', container: 'app', body: {
          ...(program.kind === 'image' ? { Image: program.image } : this.meshSimProgram('workload')),
          name: name('app'), Hostname: plan.id, Env, Labels: labels('app'),
          HostConfig: hardened(ownNamespace, own),
          NetworkingConfig: endpoint,
        } });
      } else {
        out.push({ role: 'sidecar', container: 'sidecar', body: {
          ...this.meshSimProgram('sidecar'), name: name('sidecar'), Env, Labels: labels('sidecar'),
          // Joins the app's namespace, which exists once the app's container does.
          HostConfig: hardened({ NetworkMode: JOIN_APP }, true),
        } });
      }
    }
    return out;
  }

  private meshSimProgram(which: 'sidecar' | 'workload'): Pick<ContainerCreateBody, 'Image' | 'Cmd' | 'User' | 'WorkingDir'> {
    return { Image: this.image, Cmd: [NODE_IN_IMAGE, `${APP_IN_IMAGE}/dist/src/${which}/main.js`], User: IMAGE_USER, WorkingDir: APP_IN_IMAGE };
  }

  protected async launch(pod: Pod): Promise<void> {
    this.relaunched(pod);
    try {
      if (pod.members.length === 0) await this.create(pod);
      await this.startMembers(pod);
    } catch (error) {
      if (error instanceof InstanceStartError) throw error;
      throw new InstanceStartError(pod.plan.id, `cannot start ${pod.plan.id} on Docker: ${dockerError(error)}`);
    }
  }

  private async create(pod: Pod): Promise<void> {
    const { plan } = pod;
    const spec = podSpec(plan, pod.env, {
      ports: { app: plan.servicePort, ...POD_PORTS },
      listenHost: '0.0.0.0',
      outboundHost: plan.kind === 'gateway' ? '0.0.0.0' : '127.0.0.1',
    });
    const plans = this.containerPlans(spec);
    if (plan.kind === 'image' && !(await this.docker.images.exists(plan.image!))) {
      const pulled = await tryPull(this.docker, plan.image!, PULL_TIMEOUT_MS);
      if (!pulled.ok) throw new InstanceStartError(plan.id, `${plan.service}'s image ${plan.image} is not here and cannot be pulled: ${pulled.reason}`);
    }
    let appId = '';
    for (const next of plans) {
      if (this.stopping) throw new InstanceStartError(plan.id, `${plan.id} was not started: the mesh is stopping`);
      const body = next.body.HostConfig?.NetworkMode === JOIN_APP
        ? { ...next.body, HostConfig: { ...next.body.HostConfig, NetworkMode: `container:${appId}` } }
        : next.body;
      const id = await this.docker.containers.create(body);
      // Remembered at once: whatever happens next, stop removes it.
      pod.members.push({ role: next.role, container: next.container, id, lastWords: [], exited: Promise.resolve() });
      if (next.role === 'app') appId = id;
    }
  }

  /** Starts the pod's containers (app first: the sidecar joins its network), follows their logs and exits. */
  private async startMembers(pod: Pod): Promise<void> {
    const since = Math.floor(Date.now() / 1000);
    for (const member of pod.members) {
      if (this.stopping) throw new InstanceStartError(pod.plan.id, `${pod.plan.id} was not started: the mesh is stopping`);
      await this.docker.containers.start(member.id);
      member.exited = this.watch(pod, member, since);
    }
    const state = await this.docker.containers.inspect(pod.members[0]!.id);
    const ip = state.addresses[this.networkName];
    if (!ip) throw new InstanceStartError(pod.plan.id, `${pod.plan.id} has no address on ${this.networkName}`);
    let ingress;
    if (pod.plan.kind === 'gateway') {
      const port = state.published[`${POD_PORTS.outbound}/tcp`];
      if (!port) throw new InstanceStartError(pod.plan.id, 'the gateway has no published port');
      ingress = { host: '127.0.0.1', port };
    }
    const proxy = pod.members.find((m) => m.role === 'sidecar' || m.role === 'gateway');
    pod.started = {
      id: pod.plan.id, endpoint: { host: ip, port: POD_PORTS.inbound }, ingress, admin: undefined,
      ...(proxy ? { adminInPod: { container: proxy.id, port: POD_PORTS.admin } } : {}),
    };
  }

  private watch(pod: Pod, member: Member, since: number): Promise<void> {
    const logs = this.docker.containers.follow(member.id, since, (stream, text) => this.output(pod, member, stream, text)).catch(() => undefined);
    return this.docker.containers.wait(member.id).then(async (code) => {
      // The log stream ends soon after the container; its last lines are still wanted.
      await Promise.race([logs, new Promise((r) => setTimeout(r, 2000))]);
      // 137 is 128 + SIGKILL: say it as the signal it was.
      this.memberExited(pod, member, code === 137 ? { code: null, signal: 'SIGKILL' } : { code, signal: null });
    }, () => undefined);
  }

  protected async signal(member: Member, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    await this.docker.containers.kill(member.id, signal).catch(() => {});
  }

  protected override async forget(pod: Pod): Promise<void> {
    await Promise.all(pod.members.map((m) => this.docker.containers.remove(m.id).catch(() => {})));
  }

  protected async running(pod: Pod): Promise<boolean> {
    const states = await Promise.all(pod.members.map((m) => this.docker.containers.inspect(m.id).then((s) => s.running, () => false)));
    return states.some(Boolean);
  }

  async startObservability(progress: (message: string) => void, options: ObservabilityOptions): Promise<Observability> {
    const notes: string[] = [];
    let prometheus: string | undefined;
    let grafana: string | undefined;
    const prom = await ensurePrometheusImage(this.docker, progress, findOnPath('prometheus'));
    if (prom.image === undefined) {
      notes.push(`Prometheus not started: ${prom.reason}`);
    } else {
      try {
        const port = await this.startExtra({
          name: `mesh-sim-${this.runId}-prometheus`,
          Image: prom.image,
          Entrypoint: [prom.binary],
          Cmd: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', '--web.listen-address=0.0.0.0:9090',
            `--storage.tsdb.retention.time=2h`],
          User: '65534:65534',
          Labels: runLabels(this.runId, 'prometheus'),
          ExposedPorts: { '9090/tcp': {} },
          HostConfig: hardened({
            NetworkMode: this.networkName,
            Binds: [`${join(PACKAGE_ROOT, 'compose', 'prometheus', 'prometheus.yml')}:/etc/prometheus/prometheus.yml:ro`],
            Tmpfs: { '/prometheus': 'rw,size=256m', '/tmp': 'rw,size=16m' },
            PortBindings: { '9090/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
          }, true),
          NetworkingConfig: { EndpointsConfig: { [this.networkName]: { Aliases: ['prometheus'] } } },
        }, 9090);
        prometheus = `http://127.0.0.1:${port}`;
        progress(`Prometheus ${prometheus} (${prom.image}), scraping every sidecar by DNS (${SIDECAR_ALIAS}:${POD_PORTS.admin})`);
      } catch (error) {
        notes.push(`Prometheus did not start: ${dockerError(error)}`);
      }
    }
    const jaeger = options.jaeger ? await this.startJaeger(progress, notes) : undefined;
    const grafanaImage = await ensureImage(this.docker, GRAFANA_IMAGE, progress);
    const haveGrafana = grafanaImage.ok;
    if (!grafanaImage.ok) notes.push(`Grafana not started: cannot pull ${GRAFANA_IMAGE} (${grafanaImage.reason}); its provisioning is in compose/grafana and its dashboards in dashboards/`);
    if (haveGrafana && prometheus) {
      try {
        const port = await this.startExtra({
          name: `mesh-sim-${this.runId}-grafana`,
          Image: GRAFANA_IMAGE,
          Env: ['GF_AUTH_ANONYMOUS_ENABLED=true', 'GF_AUTH_ANONYMOUS_ORG_ROLE=Admin', 'GF_AUTH_DISABLE_LOGIN_FORM=true', 'GF_ANALYTICS_REPORTING_ENABLED=false', 'GF_ANALYTICS_CHECK_FOR_UPDATES=false'],
          Labels: runLabels(this.runId, 'grafana'),
          ExposedPorts: { '3000/tcp': {} },
          HostConfig: hardened({
            NetworkMode: this.networkName,
            Binds: [
              `${join(PACKAGE_ROOT, 'compose', 'grafana', 'provisioning')}:/etc/grafana/provisioning:ro`,
              `${join(PACKAGE_ROOT, 'dashboards')}:/var/lib/grafana/dashboards:ro`,
              // Jaeger's data source only when Jaeger runs: a data source that cannot answer is a broken panel.
              ...(jaeger ? [`${join(PACKAGE_ROOT, 'compose', 'grafana', 'jaeger-datasource.yml')}:/etc/grafana/provisioning/datasources/jaeger.yml:ro`] : []),
            ],
            PortBindings: { '3000/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
          }, false),
          NetworkingConfig: { EndpointsConfig: { [this.networkName]: { Aliases: ['grafana'] } } },
        }, 3000);
        grafana = `http://127.0.0.1:${port}`;
        progress(`Grafana ${grafana}, with mesh-sim's dashboards${jaeger ? ' and Jaeger as a data source' : ''}`);
      } catch (error) {
        notes.push(`Grafana did not start: ${dockerError(error)}`);
      }
    }
    return { prometheus, grafana, jaeger, notes };
  }

  /** Jaeger all-in-one on the mesh's network: its UI and its OTLP/HTTP receiver published on 127.0.0.1. */
  private async startJaeger(progress: (message: string) => void, notes: string[]): Promise<Observability['jaeger']> {
    const image = await ensureImage(this.docker, JAEGER_IMAGE, progress);
    if (!image.ok) {
      notes.push(`Jaeger not started: cannot pull ${JAEGER_IMAGE} (${image.reason}). Where a registry is reachable it is pulled by itself; ` +
        `or \`docker save ${JAEGER_IMAGE}\` on a machine that has it and \`docker load\` here. Spans can also go to a Jaeger of your own with --otlp-endpoint`);
      return undefined;
    }
    try {
      const id = await this.createExtra(jaegerContainer(this.runId, this.networkName));
      const state = await this.docker.containers.inspect(id);
      const ui = `http://127.0.0.1:${state.published['16686/tcp'] ?? 0}`;
      const otlp = `http://127.0.0.1:${state.published['4318/tcp'] ?? 0}`;
      progress(`Jaeger ${ui} (${JAEGER_IMAGE}), receiving every span over OTLP/HTTP`);
      return { ui, otlp };
    } catch (error) {
      notes.push(`Jaeger did not start: ${dockerError(error)}`);
      return undefined;
    }
  }

  /** Prometheus or Grafana: created, remembered for removal, started; the host port it publishes. */
  private async startExtra(body: ContainerCreateBody, port: number): Promise<number> {
    const id = await this.createExtra(body);
    return (await this.docker.containers.inspect(id)).published[`${port}/tcp`] ?? 0;
  }

  /** A container beside the mesh: created, remembered for removal, started. */
  private async createExtra(body: ContainerCreateBody): Promise<string> {
    const id = await this.docker.containers.create(body);
    this.extras.push(id);
    await this.docker.containers.start(id);
    return id;
  }

  async stop(graceMs = 4000): Promise<void> {
    await this.beginStop();
    // SIGTERM first: sidecars flush their spans and logs on the way out.
    const t = Math.max(0, Math.ceil(graceMs / 1000));
    const members = this.allMembers();
    await Promise.all(members.map((m) => this.docker.containers.stop(m.id, t).catch(() => {})));
    await Promise.all(members.map((m) => Promise.race([m.exited, new Promise((r) => setTimeout(r, 3000))])));
    await Promise.all([...members.map((m) => m.id), ...this.extras].map((id) => this.docker.containers.remove(id).catch(() => {})));
    // A last sweep by label: a container the daemon would not remove (a removal already
    // in progress) would otherwise outlive the run.
    await removeRuns(this.docker, { run: this.runId }).catch(() => {});
  }
}

/** Jaeger all-in-one as the mesh's tracing backend: data built before anything starts. */
export function jaegerContainer(runId: string, network: string): ContainerCreateBody {
  return {
    name: `mesh-sim-${runId}-jaeger`,
    Image: JAEGER_IMAGE,
    Env: ['COLLECTOR_OTLP_ENABLED=true', 'SPAN_STORAGE_TYPE=memory', 'MEMORY_MAX_TRACES=50000'],
    Labels: runLabels(runId, 'jaeger'),
    ExposedPorts: { '16686/tcp': {}, '4318/tcp': {} },
    HostConfig: hardened({
      NetworkMode: network,
      PortBindings: {
        '16686/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
        '4318/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
      },
    }, false),
    NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: ['jaeger'] } } },
  };
}

/** What every container gets: no capabilities, no new privileges, a read-only root where it can. */
function hardened(extra: NonNullable<ContainerCreateBody['HostConfig']>, readOnly: boolean): NonNullable<ContainerCreateBody['HostConfig']> {
  return {
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    ReadonlyRootfs: readOnly,
    ...(readOnly ? { Tmpfs: { '/tmp': 'rw,size=64m' } } : {}),
    ...extra,
  };
}

/** Docker reachable, or one line that says how to fix it. */
export async function ensureDocker(docker: DockerClient): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([docker.ping(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no answer in 5 s')), 5000)))]);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no daemon socket' : code === 'EACCES' ? 'permission denied (are you in the docker group?)' : dockerError(error);
    throw new RuntimeUnavailableError(`cannot reach the Docker daemon at ${docker.where} (${reason}): start it (\`sudo systemctl start docker\`, or \`sudo dockerd &\`), or use --runtime process`);
  } finally {
    clearTimeout(timer);
  }
}

export const dockerRuntime: RuntimeDefinition = {
  name: 'docker',
  summary: 'each instance a pod of two containers (app and sidecar) sharing a network namespace, plus Prometheus and Grafana',
  create: (hooks, runId) => new DockerRuntime(hooks, runId),
  async cleanup(scope) {
    const docker = connectDocker();
    try {
      await ensureDocker(docker);
    } catch {
      // No Docker here: nothing of a run can be on it.
      return { runs: 0, removed: '', reachable: false };
    }
    const removed = await removeRuns(docker, scope);
    const what = removed.containers + removed.networks > 0
      ? `${plural(removed.containers, 'container')} and ${plural(removed.networks, 'network')} of ${plural(removed.runs.length, 'run')} on Docker`
      : '';
    return { runs: removed.runs.length, removed: what, reachable: true };
  },
};
