// The Docker runtime: each instance a pod of two containers, the app and its sidecar
// sharing the app's network namespace (NetworkMode container:…), on one user-defined
// bridge network per run, found by Docker's DNS. The gateway, Prometheus and Grafana
// publish ports on 127.0.0.1 only. Nothing runs privileged; mesh-sim's own containers
// have read-only root file systems. Every container and the network carry labels, so
// `mesh-sim down` (or the next run) removes what a dead run left.

import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import Docker from 'dockerode';
import { NAMESPACE } from '../../control/protocol.js';
import { SIDECAR_ENV, type SidecarBoot } from '../../sidecar/boot.js';
import { WORKLOAD_ENV, type WorkloadBoot } from '../../workload/boot.js';
import { PACKAGE_ROOT } from '../../version.js';
import { plural } from '../../words.js';
import { LineSplitter } from '../lines.js';
import { findOnPath } from '../which.js';
import {
  InstanceStartError, RuntimeUnavailableError, otelEnvironment, type Address, type InstancePlan, type LogLine, type MeshEnvironment,
  type Observability, type Runtime, type RuntimeHooks, type RuntimePreparation, type StartedInstance,
} from '../runtime.js';
import { APP_IN_IMAGE, GRAFANA_IMAGE, IMAGE_USER, NODE_IN_IMAGE, ensureNodeImage, ensurePrometheusImage, imageExists, tryPull } from './images.js';
import { removeRuns } from './cleanup.js';
import { runLabels, type Role } from './labels.js';
import { memberExited, newPod, relaunched, rememberLine, type PodMember, type PodState } from '../pod.js';

/** Ports inside a pod, as Istio's sidecar uses them. */
export const POD_PORTS = { inbound: 15006, outbound: 15001, admin: 15090 } as const;
/** The network alias every pod carries, so Prometheus finds all sidecars by DNS. */
export const SIDECAR_ALIAS = 'mesh-sim-sidecar';

interface Member extends PodMember {
  role: Role;
  docker: Docker.Container;
  /** Resolves when this start of the container has ended. */
  exited: Promise<void>;
}

type Pod = PodState<Member>;

function dockerError(error: unknown): string {
  const e = error as { message?: string; json?: { message?: string }; reason?: string };
  return e.json?.message ?? e.reason ?? e.message ?? String(error);
}

export class DockerRuntime implements Runtime {
  readonly name = 'docker' as const;
  private readonly docker: Docker;
  private readonly pods = new Map<string, Pod>();
  private readonly extras: Docker.Container[] = [];
  private readonly networkName: string;
  private gateway = '';
  private image = '';
  private stopping = false;

  constructor(private readonly hooks: RuntimeHooks, private readonly runId: string, docker?: Docker) {
    this.docker = docker ?? new Docker();
    this.networkName = `mesh-sim-${runId}`;
  }

  async prepare(progress: (message: string) => void): Promise<RuntimePreparation> {
    await ensureDocker(this.docker);
    const left = await removeRuns(this.docker, 'dead', this.runId);
    if (left.containers + left.networks > 0) {
      progress(`removed ${plural(left.containers, 'container')} and ${plural(left.networks, 'network')} left by ${plural(left.runs.length, 'earlier run')} whose mesh-sim is gone`);
    }
    this.image = await ensureNodeImage(this.docker, progress);
    const network = await this.docker.createNetwork({
      Name: this.networkName, Driver: 'bridge', CheckDuplicate: true, Labels: runLabels(this.runId, 'app'),
    });
    const info = await network.inspect() as { IPAM?: { Config?: Array<{ Gateway?: string }> } };
    this.gateway = info.IPAM?.Config?.[0]?.Gateway ?? '';
    if (!this.gateway) throw new RuntimeUnavailableError(`the Docker network ${this.networkName} has no gateway address to reach mesh-sim on`);
    progress(`network ${this.networkName}; containers reach mesh-sim's control plane at host.docker.internal (${this.gateway})`);
    // The hub listens on loopback and on this bridge's gateway, which only this host and its containers reach.
    return { listenHosts: ['127.0.0.1', this.gateway], controlHost: 'host.docker.internal' };
  }

  private hostConfig(extra: Docker.HostConfig, readOnly: boolean): Docker.HostConfig {
    return {
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      ReadonlyRootfs: readOnly,
      ...(readOnly ? { Tmpfs: { '/tmp': 'rw,size=64m' } } : {}),
      ...extra,
    };
  }

  async start(plan: InstancePlan, env: MeshEnvironment): Promise<StartedInstance> {
    if (plan.kind === 'command') {
      throw new InstanceStartError(plan.id, `${plan.service} brings its own command (${plan.command}), which the docker runtime cannot run: give it an \`image\`, or use --runtime process`);
    }
    if (Object.values(POD_PORTS).includes(plan.servicePort as 15006)) {
      throw new InstanceStartError(plan.id, `${plan.service}'s port ${plan.servicePort} is one the sidecar uses in a pod (${Object.values(POD_PORTS).join(', ')}): give the service another port`);
    }
    const pod = newPod<Member>(plan, env);
    this.pods.set(plan.id, pod);
    try {
      if (plan.kind === 'gateway') await this.createGateway(pod);
      else await this.createPod(pod);
      await this.launch(pod);
    } catch (error) {
      if (error instanceof InstanceStartError) throw error;
      throw new InstanceStartError(plan.id, `cannot start ${plan.id} on Docker: ${dockerError(error)}`);
    }
    return pod.started!;
  }

  private labels(pod: Pod, role: Role): Record<string, string> {
    return runLabels(this.runId, role, { 'mesh-sim.instance': pod.plan.id, 'mesh-sim.service': pod.plan.service, 'mesh-sim.version': pod.plan.version });
  }

  private sidecarBoot(pod: Pod, mode: SidecarBoot['mode']): SidecarBoot {
    return {
      instance: pod.plan.id,
      service: pod.plan.service,
      version: pod.plan.version,
      namespace: NAMESPACE,
      workload: pod.plan.workload,
      servicePort: pod.plan.servicePort,
      mode,
      // Inbound and admin face the network (callers, Prometheus); outbound only the app in the pod.
      listen: { host: '0.0.0.0', inbound: POD_PORTS.inbound, outbound: POD_PORTS.outbound, admin: POD_PORTS.admin, outboundHost: mode === 'gateway' ? '0.0.0.0' : '127.0.0.1' },
      app: mode === 'gateway' ? undefined : { host: '127.0.0.1', port: pod.plan.servicePort },
      controlUrl: pod.env.controlUrl,
      controlSecret: pod.env.controlSecret,
    };
  }

  private containerName(pod: Pod, role: Role): string {
    return `mesh-sim-${this.runId}-${pod.plan.id}${role === 'sidecar' ? '-sidecar' : ''}`;
  }

  /** What every sidecar container has, in a pod or as the gateway: mesh-sim's image, unprivileged. */
  private sidecarSpec(pod: Pod, role: 'sidecar' | 'gateway'): Docker.ContainerCreateOptions {
    return {
      name: this.containerName(pod, role),
      Image: this.image,
      Cmd: [NODE_IN_IMAGE, `${APP_IN_IMAGE}/dist/src/sidecar/main.js`],
      Env: [`${SIDECAR_ENV}=${JSON.stringify(this.sidecarBoot(pod, role === 'gateway' ? 'gateway' : 'sidecar'))}`],
      User: IMAGE_USER,
      WorkingDir: APP_IN_IMAGE,
      Labels: this.labels(pod, role),
    };
  }

  private async createGateway(pod: Pod): Promise<void> {
    const container = await this.docker.createContainer({
      ...this.sidecarSpec(pod, 'gateway'),
      ExposedPorts: { [`${POD_PORTS.outbound}/tcp`]: {} },
      HostConfig: this.hostConfig({
        NetworkMode: this.networkName,
        ExtraHosts: [`host.docker.internal:${this.gateway}`],
        // Where traffic from this machine enters the mesh: loopback only, a free port.
        PortBindings: { [`${POD_PORTS.outbound}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: '' }] },
      }, true),
      NetworkingConfig: { EndpointsConfig: { [this.networkName]: { Aliases: [pod.plan.id, SIDECAR_ALIAS] } } },
    });
    pod.members = [{ role: 'gateway', container: 'sidecar', docker: container, lastWords: [], exited: Promise.resolve() }];
  }

  private async createPod(pod: Pod): Promise<void> {
    const { plan, env } = pod;
    const proxy = `http://127.0.0.1:${POD_PORTS.outbound}`;
    const appEnv = plan.kind === 'sample'
      ? [`${WORKLOAD_ENV}=${JSON.stringify({
          instance: plan.id, service: plan.service, version: plan.version,
          listen: { host: '127.0.0.1', port: plan.servicePort }, proxy: { host: '127.0.0.1', port: POD_PORTS.outbound },
          controlUrl: env.controlUrl, controlSecret: env.controlSecret, initial: env.initialWorkload(plan),
        } satisfies WorkloadBoot)}`]
      : [`PORT=${plan.servicePort}`, `HTTP_PROXY=${proxy}`, `http_proxy=${proxy}`, `MESH_SIM_INSTANCE=${plan.id}`, `MESH_SIM_SERVICE=${plan.service}`, `MESH_SIM_VERSION=${plan.version}`,
        ...Object.entries(otelEnvironment(env.controlUrl, plan, env.controlSecret)).map(([k, v]) => `${k}=${v}`)];
    if (plan.kind === 'image' && !(await imageExists(this.docker, plan.image!))) {
      const pulled = await tryPull(this.docker, plan.image!, 60_000);
      if (!pulled.ok) throw new InstanceStartError(plan.id, `${plan.service}'s image ${plan.image} is not here and cannot be pulled: ${pulled.reason}`);
    }
    const app = await this.docker.createContainer({
      name: this.containerName(pod, 'app'),
      Hostname: plan.id,
      Image: plan.kind === 'sample' ? this.image : plan.image!,
      ...(plan.kind === 'sample' ? { Cmd: [NODE_IN_IMAGE, `${APP_IN_IMAGE}/dist/src/workload/main.js`], User: IMAGE_USER, WorkingDir: APP_IN_IMAGE } : {}),
      Env: appEnv,
      Labels: this.labels(pod, 'app'),
      // The app container owns the pod's network namespace (like Kubernetes' pause container).
      HostConfig: this.hostConfig({ NetworkMode: this.networkName, ExtraHosts: [`host.docker.internal:${this.gateway}`] }, plan.kind === 'sample'),
      NetworkingConfig: { EndpointsConfig: { [this.networkName]: { Aliases: [plan.id, SIDECAR_ALIAS] } } },
    });
    const sidecar = await this.docker.createContainer({
      ...this.sidecarSpec(pod, 'sidecar'),
      HostConfig: this.hostConfig({ NetworkMode: `container:${app.id}` }, true),
    });
    pod.members = [
      { role: 'app', container: 'app', docker: app, lastWords: [], exited: Promise.resolve() },
      { role: 'sidecar', container: 'sidecar', docker: sidecar, lastWords: [], exited: Promise.resolve() },
    ];
  }

  /** Starts the pod's containers (app first: the sidecar joins its network), follows their logs and exits. */
  private async launch(pod: Pod): Promise<void> {
    relaunched(pod);
    const since = Math.floor(Date.now() / 1000);
    for (const member of pod.members) {
      await member.docker.start();
      member.exited = this.watch(pod, member, since);
    }
    const owner = pod.members[0]!.docker;
    const info = await owner.inspect();
    const ip = info.NetworkSettings.Networks[this.networkName]?.IPAddress;
    if (!ip) throw new InstanceStartError(pod.plan.id, `${pod.plan.id} has no address on ${this.networkName}`);
    let ingress: Address | undefined;
    if (pod.plan.kind === 'gateway') {
      const binding = info.NetworkSettings.Ports?.[`${POD_PORTS.outbound}/tcp`]?.[0];
      if (!binding) throw new InstanceStartError(pod.plan.id, 'the gateway has no published port');
      ingress = { host: '127.0.0.1', port: Number(binding.HostPort) };
    }
    pod.started = { id: pod.plan.id, endpoint: { host: ip, port: POD_PORTS.inbound }, ingress, admin: undefined };
  }

  private watch(pod: Pod, member: Member, since: number): Promise<void> {
    const emit = (stream: LogLine['stream']) => new LineSplitter((text) => {
      if (stream === 'stderr') rememberLine(member, text);
      this.hooks.onLog({ instance: pod.plan.id, container: member.container, stream, text });
    });
    const stdout = emit('stdout');
    const stderr = emit('stderr');
    const logs = member.docker.logs({ follow: true, stdout: true, stderr: true, since }).then((stream) => {
      const out = new PassThrough();
      const err = new PassThrough();
      out.pipe(stdout);
      err.pipe(stderr);
      this.docker.modem.demuxStream(stream as NodeJS.ReadableStream, out, err);
      return new Promise<void>((resolve) => {
        (stream as NodeJS.ReadableStream).on('end', () => {
          out.end();
          err.end();
          resolve();
        });
        (stream as NodeJS.ReadableStream).on('error', () => resolve());
      });
    }, () => undefined);
    return member.docker.wait().then(async (result: { StatusCode?: number }) => {
      // The log stream ends soon after the container; its last lines are still wanted.
      await Promise.race([logs, new Promise((r) => setTimeout(r, 2000))]);
      const code = result.StatusCode ?? null;
      // 137 is 128 + SIGKILL: say it as the signal it was.
      memberExited(pod, member, code === 137 ? { code: null, signal: 'SIGKILL' } : { code, signal: null }, this.stopping,
        (other) => void other.docker.kill({ signal: 'SIGTERM' }).catch(() => {}), this.hooks);
    }, () => undefined);
  }

  async kill(id: string): Promise<void> {
    const pod = this.pods.get(id);
    if (!pod) return;
    pod.expectExit = true;
    await Promise.all(pod.members.map((m) => m.docker.kill({ signal: 'SIGKILL' }).catch(() => {})));
    await Promise.all(pod.members.map((m) => m.exited));
  }

  async restart(id: string): Promise<StartedInstance> {
    const pod = this.pods.get(id);
    if (!pod) throw new InstanceStartError(id, `no instance ${id}`);
    const running = await Promise.all(pod.members.map(async (m) => (await m.docker.inspect()).State.Running));
    if (running.some(Boolean)) await this.kill(id);
    await this.launch(pod);
    return pod.started!;
  }

  async startObservability(progress: (message: string) => void, options: { scrapeIntervalSeconds: number }): Promise<Observability> {
    const notes: string[] = [];
    let prometheus: string | undefined;
    let grafana: string | undefined;
    const prom = await ensurePrometheusImage(this.docker, progress, findOnPath('prometheus'));
    if (prom.image === undefined) {
      notes.push(`Prometheus not started: ${prom.reason}`);
    } else {
      try {
        const container = await this.docker.createContainer({
          name: `mesh-sim-${this.runId}-prometheus`,
          Image: prom.image,
          Entrypoint: [prom.binary],
          Cmd: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', '--web.listen-address=0.0.0.0:9090',
            `--storage.tsdb.retention.time=2h`],
          User: '65534:65534',
          Labels: runLabels(this.runId, 'prometheus'),
          ExposedPorts: { '9090/tcp': {} },
          HostConfig: this.hostConfig({
            NetworkMode: this.networkName,
            Binds: [`${join(PACKAGE_ROOT, 'compose', 'prometheus', 'prometheus.yml')}:/etc/prometheus/prometheus.yml:ro`],
            Tmpfs: { '/prometheus': 'rw,size=256m', '/tmp': 'rw,size=16m' },
            PortBindings: { '9090/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
          }, true),
          NetworkingConfig: { EndpointsConfig: { [this.networkName]: { Aliases: ['prometheus'] } } },
        });
        await container.start();
        this.extras.push(container);
        prometheus = `http://127.0.0.1:${await this.publishedPort(container, 9090)}`;
        progress(`Prometheus ${prometheus} (${prom.image}), scraping every sidecar by DNS (${SIDECAR_ALIAS}:${POD_PORTS.admin})`);
      } catch (error) {
        notes.push(`Prometheus did not start: ${dockerError(error)}`);
      }
    }
    let haveGrafana = await imageExists(this.docker, GRAFANA_IMAGE);
    if (!haveGrafana) {
      progress(`pulling ${GRAFANA_IMAGE}`);
      const pulled = await tryPull(this.docker, GRAFANA_IMAGE, 20_000);
      haveGrafana = pulled.ok;
      if (!pulled.ok) notes.push(`Grafana not started: cannot pull ${GRAFANA_IMAGE} (${pulled.reason}); its provisioning is in compose/grafana and its dashboards in dashboards/`);
    }
    if (haveGrafana && prometheus) {
      try {
        const container = await this.docker.createContainer({
          name: `mesh-sim-${this.runId}-grafana`,
          Image: GRAFANA_IMAGE,
          Env: ['GF_AUTH_ANONYMOUS_ENABLED=true', 'GF_AUTH_ANONYMOUS_ORG_ROLE=Admin', 'GF_AUTH_DISABLE_LOGIN_FORM=true', 'GF_ANALYTICS_REPORTING_ENABLED=false', 'GF_ANALYTICS_CHECK_FOR_UPDATES=false'],
          Labels: runLabels(this.runId, 'grafana'),
          ExposedPorts: { '3000/tcp': {} },
          HostConfig: {
            NetworkMode: this.networkName,
            CapDrop: ['ALL'],
            SecurityOpt: ['no-new-privileges'],
            Binds: [
              `${join(PACKAGE_ROOT, 'compose', 'grafana', 'provisioning')}:/etc/grafana/provisioning:ro`,
              `${join(PACKAGE_ROOT, 'dashboards')}:/var/lib/grafana/dashboards:ro`,
            ],
            PortBindings: { '3000/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
          },
          NetworkingConfig: { EndpointsConfig: { [this.networkName]: { Aliases: ['grafana'] } } },
        });
        await container.start();
        this.extras.push(container);
        grafana = `http://127.0.0.1:${await this.publishedPort(container, 3000)}`;
        progress(`Grafana ${grafana}, with mesh-sim's dashboards`);
      } catch (error) {
        notes.push(`Grafana did not start: ${dockerError(error)}`);
      }
    }
    void options;
    return { prometheus, grafana, notes };
  }

  private async publishedPort(container: Docker.Container, port: number): Promise<number> {
    const info = await container.inspect();
    return Number(info.NetworkSettings.Ports?.[`${port}/tcp`]?.[0]?.HostPort);
  }

  async stop(graceMs = 4000): Promise<void> {
    this.stopping = true;
    const t = Math.max(0, Math.ceil(graceMs / 1000));
    const members = [...this.pods.values()].flatMap((p) => p.members);
    // SIGTERM first: sidecars flush their spans and logs on the way out.
    await Promise.all(members.map((m) => m.docker.stop({ t }).catch(() => {})));
    await Promise.all(members.map((m) => Promise.race([m.exited, new Promise((r) => setTimeout(r, 3000))])));
    await Promise.all([...members.map((m) => m.docker), ...this.extras].map((c) => c.remove({ force: true, v: true }).catch(() => {})));
    // A last sweep by label: a container created while we stopped, or a removal the
    // daemon refused (already in progress), would otherwise outlive the run.
    await removeRuns(this.docker, { run: this.runId }).catch(() => {});
  }
}

/** Docker reachable, or one line that says how to fix it. */
export async function ensureDocker(docker: Docker): Promise<void> {
  const where = process.env.DOCKER_HOST ?? '/var/run/docker.sock';
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([docker.ping(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no answer in 5 s')), 5000)))]);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no daemon socket' : (error as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied (are you in the docker group?)' : dockerError(error);
    throw new RuntimeUnavailableError(`cannot reach the Docker daemon at ${where} (${reason}): start it (\`sudo systemctl start docker\`, or \`sudo dockerd &\`), or use --runtime process`);
  } finally {
    clearTimeout(timer);
  }
}
