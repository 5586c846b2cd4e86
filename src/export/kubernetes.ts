// A scenario as a Kubernetes cluster with Istio runs it: the files `kubectl apply -f
// DIR` needs (a Namespace labelled for injection; per service a ServiceAccount and a
// Service with its port named `http`; per version a Deployment labelled app/version
// running mesh-sim's own workload from the pod spec; the scenario's Istio resources,
// unchanged, the shorthand written out; a Gateway and its VirtualService), the traffic as
// a Job running mesh-sim's generator against the ingress gateway, the timeline as a
// script of kubectl commands with the narration, and a README saying what a cluster
// cannot express. Pure: it returns files; the CLI writes them.

import type { Scenario, TimelineEvent, TrafficFlow, InstanceTarget } from '../scenario/model.js';
import { ControlPlane } from '../control/plane.js';
import { planInstances } from '../mesh/plan.js';
import { clusterPodSpec, type PodSpec } from '../runtime/pod-spec.js';
import type { InstancePlan } from '../runtime/runtime.js';
import { APP_IN_IMAGE, NODE_IN_IMAGE } from '../runtime/docker/images.js';
import { kubectlYaml, resourceDocument } from '../istio/print.js';
import { NAMESPACE, resourceKey, type IstioResource } from '../istio/resources.js';
import { ROOT_NAMESPACE } from '../policy/security.js';
import { serviceAccountOf } from '../identity/spiffe.js';
import { formatDuration } from '../scenario/units.js';
import { TRAFFIC_ENV, type TrafficBoot } from '../traffic/boot.js';
import { VERSION } from '../version.js';

export interface ExportOptions {
  /** The image holding mesh-sim's workload and traffic generator (`mesh-sim image build`). */
  image: string;
  namespace: string;
  /** The seed the workloads and the traffic draw their decisions from. */
  seed: number;
  /** How long the traffic runs; the scenario's own duration if it has one. */
  durationMs: number;
  /** The scenario file as the user named it, for the README's commands. */
  file: string;
}

/** Files by path relative to the export directory. */
export type ExportedFiles = Map<string, string>;

export const GATEWAY_NAME = 'mesh-sim-gateway';
/** Where the ingress gateway is in a default Istio install. */
export const INGRESS = { host: 'istio-ingressgateway.istio-system.svc.cluster.local', port: 80 };

type Manifest = Record<string, unknown>;

const yamlDocuments = (docs: Manifest[]): string => docs.map((d) => kubectlYaml(d)).join('---\n');

export function exportKubernetes(scenario: Scenario, states: ReadonlyMap<number, Scenario>, options: ExportOptions): ExportedFiles {
  const files: ExportedFiles = new Map();
  const unsupported = scenario.services.flatMap((s) => s.versions.filter((v) => v.command !== undefined).map((v) => `${s.name} ${v.name}`));
  if (unsupported.length > 0) {
    throw new ExportError(`${unsupported.join(', ')} run${unsupported.length === 1 ? 's' : ''} a \`command\`, which only this machine can run: give ${unsupported.length === 1 ? 'it' : 'them'} an \`image\` to take the scenario to a cluster`);
  }
  const tcpFlows = scenario.traffic.filter((f) => scenario.services.find((svc) => svc.name === f.to)?.protocol === 'tcp').map((f) => f.id);
  if (tcpFlows.length > 0) {
    throw new ExportError(`traffic ${tcpFlows.join(', ')} goes to a tcp service, which a cluster's traffic Job cannot reach yet (it would need a Gateway with a TCP server and a tcp route bound to it); its services and Istio resources export once those flows are left out`);
  }
  const ns = options.namespace;
  files.set('00-namespace.yaml', kubectlYaml({
    apiVersion: 'v1', kind: 'Namespace',
    metadata: { name: ns, labels: { 'istio-injection': 'enabled' } },
  }));
  for (const service of scenario.services) {
    files.set(`10-${service.name}.yaml`, yamlDocuments(serviceManifests(scenario, service.name, options)));
  }
  files.set('20-istio.yaml', scenario.istio.length > 0
    ? istioDocuments(scenario.istio, ns)
    : '# The scenario has no Istio resources: every host takes Istio\'s default route and traffic policy.\n');
  files.set('30-gateway.yaml', yamlDocuments(gatewayManifests(scenario, ns)));
  files.set('traffic/job.yaml', yamlDocuments([trafficJob(scenario, states, options)]));
  const timeline = timelineScript(scenario, states, options);
  files.set('timeline.sh', timeline.script);
  for (const [path, content] of timeline.files) files.set(path, content);
  files.set('README.md', readme(scenario, options));
  return files;
}

export class ExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportError';
  }
}

function metadata(name: string, namespace: string, labels: Record<string, string> = {}): Manifest {
  return { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'mesh-sim', ...labels } };
}

/**
 * Istio resources as kubectl applies them, in the export's namespace; mesh-wide
 * policies stay in istio-system. The scenario's namespace is `default`: an
 * AuthorizationPolicy's principals and namespaces that name it are moved to the
 * export's, so they name the same workloads there.
 */
function istioDocuments(resources: readonly IstioResource[], namespace: string): string {
  return resources.map((r) => {
    const doc = resourceDocument(r) as { metadata: Record<string, unknown>; spec: unknown };
    const target = r.namespace === ROOT_NAMESPACE ? ROOT_NAMESPACE : namespace;
    const spec = r.kind === 'AuthorizationPolicy' && namespace !== NAMESPACE ? renamespace(doc.spec, namespace) : doc.spec;
    return `# ${r.kind} ${r.name}: ${r.origin.shorthand ? `the \`mesh:\` shorthand at ${r.origin.where}` : r.origin.where}\n${kubectlYaml({ ...doc, metadata: { ...doc.metadata, namespace: target }, spec })}`;
  }).join('---\n');
}

/** `cluster.local/ns/default/...` and a namespace `default` in a policy, as they read in `namespace`. */
function renamespace(value: unknown, namespace: string, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => renamespace(v, namespace, key));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renamespace(v, namespace, k)]));
  }
  if (typeof value !== 'string') return value;
  if ((key === 'namespaces' || key === 'notNamespaces') && value === NAMESPACE) return namespace;
  return value.replace(`/ns/${NAMESPACE}/`, `/ns/${namespace}/`);
}

function servicePort(scenario: Scenario, service: string): number {
  return planInstances({ services: scenario.services.filter((s) => s.name === service) })[0]?.servicePort ?? 9080;
}

function serviceManifests(scenario: Scenario, name: string, options: ExportOptions): Manifest[] {
  const ns = options.namespace;
  const port = servicePort(scenario, name);
  const spec = scenario.services.find((svc) => svc.name === name);
  const protocol = spec?.protocol ?? 'http';
  const account = spec?.serviceAccount ?? serviceAccountOf(name);
  const out: Manifest[] = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: metadata(account, ns, { account }) },
    {
      apiVersion: 'v1', kind: 'Service',
      metadata: metadata(name, ns, { app: name, service: name }),
      // Istio needs the port named for its protocol (or appProtocol set) to treat it as HTTP or TCP.
      spec: { selector: { app: name }, ports: [{ name: protocol, port, targetPort: port, appProtocol: protocol }] },
    },
  ];
  out.push(...deployments(scenario, name, options));
  return out;
}

/** Each version of a service as a Deployment, in the state `scenario` describes. */
function deployments(scenario: Scenario, name: string, options: ExportOptions): Manifest[] {
  const plane = new ControlPlane(scenario, options.seed);
  const service = scenario.services.find((s) => s.name === name)!;
  return service.versions.map((v) => {
    const plan: InstancePlan = planInstances({ services: [{ ...service, versions: [{ ...v, replicas: 1 }] }] })[0]!;
    const spec = clusterPodSpec({ ...plan, id: `${plan.workload}`, replica: 0 }, plane.workloadSnapshot(name, v.name)!);
    return deployment(spec, v.replicas, options);
  });
}

/** A pod spec rendered as a Deployment: what the pod spec says, in Kubernetes' words. */
function deployment(spec: PodSpec, replicas: number, options: ExportOptions): Manifest {
  const { plan } = spec;
  const containers = spec.containers.map((c) => ({
    name: c.name,
    image: c.program.kind === 'image' ? c.program.image : options.image,
    ...(c.program.kind === 'workload' ? { command: [NODE_IN_IMAGE, `${APP_IN_IMAGE}/dist/src/workload/main.js`] } : {}),
    ...(c.program.kind === 'workload' ? { workingDir: APP_IN_IMAGE } : {}),
    env: Object.entries(c.env).map(([k, value]) => ({ name: k, value })),
    ports: [{ name: plan.protocol, containerPort: spec.ports.app }],
    ...(c.program.kind === 'workload' ? {
      securityContext: {
        runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      },
      resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    } : {}),
  }));
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: metadata(plan.workload, options.namespace, spec.labels),
    spec: {
      replicas,
      selector: { matchLabels: { app: spec.labels.app, version: spec.labels.version } },
      template: {
        // A pod outside the mesh (`sidecar: false`) is one Istio does not inject.
        metadata: { labels: spec.labels, ...(plan.sidecar ? {} : { annotations: { 'sidecar.istio.io/inject': 'false' } }) },
        spec: {
          serviceAccountName: spec.serviceAccount,
          containers,
        },
      },
    },
  };
}

/** Traffic enters where mesh-sim's does: at each flow's service, through Istio's ingress gateway. */
function gatewayManifests(scenario: Scenario, namespace: string): Manifest[] {
  const targets = [...new Set(scenario.traffic.map((f) => f.to))];
  return [
    {
      apiVersion: 'networking.istio.io/v1', kind: 'Gateway',
      metadata: metadata(GATEWAY_NAME, namespace),
      spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] },
    },
    {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService',
      metadata: metadata('mesh-sim-ingress', namespace),
      spec: {
        hosts: ['*'],
        gateways: [GATEWAY_NAME],
        // The traffic names its service in the Host header, as mesh-sim's generator does.
        http: targets.map((to) => ({
          name: to,
          match: [{ authority: { regex: `^${to}(:[0-9]+)?$` } }],
          route: [{ destination: { host: to, port: { number: servicePort(scenario, to) } } }],
        })),
      },
    },
  ];
}

/** The flows in force from each time on: the start, then each event that changes them. */
function trafficChanges(scenario: Scenario, states: ReadonlyMap<number, Scenario>): TrafficBoot['changes'] {
  const changes: TrafficBoot['changes'] = [];
  let before = JSON.stringify(scenario.traffic);
  for (const event of scenario.timeline) {
    const after = states.get(event.index);
    if (!after) continue;
    const now = JSON.stringify(after.traffic);
    if (now !== before) changes.push({ atMs: event.atMs, flows: after.traffic });
    before = now;
  }
  return changes;
}

function trafficJob(scenario: Scenario, states: ReadonlyMap<number, Scenario>, options: ExportOptions): Manifest {
  const boot: TrafficBoot = {
    target: INGRESS,
    seed: options.seed,
    durationMs: options.durationMs,
    ports: Object.fromEntries(scenario.services.map((s) => [s.name, servicePort(scenario, s.name)])),
    flows: scenario.traffic,
    changes: trafficChanges(scenario, states),
  };
  return {
    apiVersion: 'batch/v1', kind: 'Job',
    metadata: metadata(`mesh-sim-traffic-${scenario.name}`.slice(0, 63).replace(/-+$/, ''), options.namespace, { app: 'mesh-sim-traffic' }),
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: Math.ceil(options.durationMs / 1000) + 120,
      template: {
        metadata: {
          labels: { app: 'mesh-sim-traffic' },
          // Traffic from outside the mesh, as mesh-sim's enters at the gateway; and a Job with
          // a sidecar would never complete.
          annotations: { 'sidecar.istio.io/inject': 'false' },
        },
        spec: {
          restartPolicy: 'Never',
          containers: [{
            name: 'traffic',
            image: options.image,
            command: [NODE_IN_IMAGE, `${APP_IN_IMAGE}/dist/src/traffic/main.js`],
            workingDir: APP_IN_IMAGE,
            env: [{ name: TRAFFIC_ENV, value: JSON.stringify(boot) }],
            securityContext: { runAsNonRoot: true, runAsUser: 1000, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          }],
        },
      },
    },
  };
}

function deploymentName(target: InstanceTarget, scenario: Scenario): string[] {
  const service = scenario.services.find((s) => s.name === target.service);
  return (service?.versions ?? []).filter((v) => target.version === undefined || v.name === target.version).map((v) => `${target.service}-${v.name}`);
}

const shellQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/** The timeline as kubectl commands at their times, the narration echoed. */
function timelineScript(scenario: Scenario, states: ReadonlyMap<number, Scenario>, options: ExportOptions): { script: string; files: Map<string, string> } {
  const files = new Map<string, string>();
  const ns = options.namespace;
  const lines: string[] = [
    '#!/bin/sh',
    `# The timeline of scenario ${scenario.name} (${options.file}), on a cluster with Istio.`,
    '# Written by `mesh-sim export`. Start it once every Deployment is available:',
    `#   kubectl -n ${ns} wait --for=condition=available deployment --all --timeout=300s`,
    'set -eu',
    'cd "$(dirname "$0")"',
    `NS=${shellQuote(ns)}`,
    'START=$(date +%s)',
    'at() { # wait until scenario time $1 (seconds)',
    '  now=$(($(date +%s) - START)); [ "$1" -gt "$now" ] && sleep $(($1 - now)) || true',
    '}',
    `echo "mesh-sim run started at $(date -u +%Y-%m-%dT%H:%M:%SZ): grade it with mesh-sim check ${shellQuote(options.file)} --prometheus URL --from $START"`,
    'kubectl -n "$NS" delete job -l app=mesh-sim-traffic --ignore-not-found',
    'kubectl -n "$NS" apply -f traffic/job.yaml',
  ];
  let before = scenario;
  for (const event of scenario.timeline) {
    const seconds = Math.floor(event.atMs / 1000);
    const step = eventCommands(event, before, states.get(event.index), scenario, options, files);
    if (step.length === 0) continue;
    lines.push('', `at ${seconds} # ${formatDuration(event.atMs)}`, ...step);
    before = states.get(event.index) ?? before;
  }
  lines.push('', `at ${Math.ceil(options.durationMs / 1000)}`, 'echo "the scenario\'s time is up: kubectl -n $NS logs job/$(kubectl -n $NS get job -l app=mesh-sim-traffic -o name | cut -d/ -f2) shows the traffic\'s own summary"', '');
  return { script: lines.join('\n'), files };
}

function eventCommands(event: TimelineEvent, before: Scenario, after: Scenario | undefined, scenario: Scenario, options: ExportOptions, files: Map<string, string>): string[] {
  const out: string[] = [];
  const tag = String(event.index).padStart(2, '0');
  if (event.say) out.push(`echo ${shellQuote(`[${formatDuration(event.atMs)}] ${event.say.replace(/\s+/g, ' ').trim()}`)}`);
  if (after) {
    const was = new Map(before.istio.map((r) => [resourceKey(r), JSON.stringify(resourceDocument(r))]));
    const now = new Set(after.istio.map(resourceKey));
    const changed = after.istio.filter((r) => was.get(resourceKey(r)) !== JSON.stringify(resourceDocument(r)));
    for (const r of before.istio.filter((x) => !now.has(resourceKey(x)))) {
      const ns = r.namespace === ROOT_NAMESPACE ? ROOT_NAMESPACE : '"$NS"';
      out.push(`kubectl -n ${ns} delete ${r.kind.toLowerCase()}.${r.apiVersion.split('/')[0]} ${shellQuote(r.name)} --ignore-not-found`);
    }
    if (changed.length > 0) {
      const path = `timeline/${tag}-istio.yaml`;
      files.set(path, istioDocuments(changed, options.namespace));
      out.push(`kubectl -n "$NS" apply -f ${path}`);
    }
    // The apps' own behaviour (latency, errors, calls) lives in each Deployment: a change rolls it out.
    const rolled: Manifest[] = [];
    for (const service of after.services) {
      const old = JSON.stringify(before.services.find((s) => s.name === service.name));
      if (old === JSON.stringify(service)) continue;
      rolled.push(...deployments(after, service.name, options));
    }
    if (rolled.length > 0) {
      const path = `timeline/${tag}-deployments.yaml`;
      files.set(path, yamlDocuments(rolled));
      out.push(`kubectl -n "$NS" apply -f ${path}`);
    }
    if (JSON.stringify(before.traffic) !== JSON.stringify(after.traffic)) {
      out.push('# the traffic changes here too: the traffic Job carries the change and makes it itself');
    }
  }
  for (const [target, how] of [[event.kill, 'kill'], [event.restart, 'restart']] as const) {
    if (!target) continue;
    const service = scenario.services.find((s) => s.name === target.service);
    for (const name of deploymentName(target, scenario)) {
      const replicas = service?.versions.find((v) => `${target.service}-${v.name}` === name)?.replicas ?? 1;
      if (how === 'kill') {
        const to = target.replica === undefined ? 0 : Math.max(0, replicas - 1);
        out.push(`kubectl -n "$NS" scale deployment/${name} --replicas=${to}`);
      } else {
        out.push(`kubectl -n "$NS" scale deployment/${name} --replicas=${replicas}`);
      }
    }
  }
  if (event.check) {
    out.push(`echo ${shellQuote(`check: ${event.check.expr.text}`)}" (mesh-sim check judges it; its window ends at $(date +%s))"`);
  }
  return out;
}

function describeFlow(flow: TrafficFlow): string {
  const load = [flow.rps !== undefined ? `${flow.rps} rps` : '', flow.concurrency !== undefined ? `${flow.concurrency} in flight` : '', flow.requests !== undefined ? `${flow.requests} requests` : ''].filter(Boolean).join(', ');
  return `${flow.id}: ${load} to ${flow.to}${flow.path}`;
}

function readme(scenario: Scenario, options: ExportOptions): string {
  const ns = options.namespace;
  return `# ${scenario.name} on a cluster with Istio

Written by \`mesh-sim export ${options.file} --kubernetes DIR\` (mesh-sim ${VERSION}).
${scenario.description ? `\n${scenario.description.trim()}\n` : ''}
## Run it

You need a Kubernetes cluster with Istio (its default profile: an ingress gateway named
\`istio-ingressgateway\` in \`istio-system\`), and the image \`${options.image}\` where the
cluster can pull it:

\`\`\`sh
mesh-sim image build --tag ${options.image}   # then: docker push ${options.image}, or kind load docker-image ${options.image}
kubectl apply -f DIR                          # namespace ${ns}, services, deployments, Istio resources, gateway
kubectl -n ${ns} wait --for=condition=available deployment --all --timeout=300s
sh DIR/timeline.sh                            # starts the traffic Job, then plays the timeline
mesh-sim check ${options.file} --prometheus http://PROMETHEUS:9090 --from START   # START: the time timeline.sh printed
\`\`\`

## What is here

| file | what |
| --- | --- |
| \`00-namespace.yaml\` | the namespace \`${ns}\`, labelled \`istio-injection: enabled\` |
| \`10-SERVICE.yaml\` | per service a ServiceAccount, a Service (port named \`http\`), a Deployment per version (labels \`app\`, \`version\`) |
| \`20-istio.yaml\` | the scenario's Istio resources as they stand at the start (the \`mesh:\` shorthand written out) |
| \`30-gateway.yaml\` | a Gateway and a VirtualService that let the traffic in through \`istio-ingressgateway\` |
| \`traffic/job.yaml\` | the traffic, as a Job running mesh-sim's own generator: ${scenario.traffic.map(describeFlow).join('; ') || 'none'} |
| \`timeline.sh\`, \`timeline/\` | the timeline as kubectl commands at their times, the narration echoed |

## What a cluster does differently

- **Seeded decisions.** mesh-sim draws every route, fault and error decision from the
  seed (${options.seed}), so the same request gets the same outcome on every run. Istio's Envoy draws
  its own: weights, fault percentages and retries come out in the same proportions, not
  request by request. The apps' own decisions (errorRate, call probability) still use the seed.
- **The way in.** mesh-sim routes traffic at the gateway as an in-mesh client's sidecar
  would (a flow's service's own VirtualService applies there). On the cluster the gateway
  applies \`mesh-sim-ingress\` only; the services' own rules apply from the first sidecar
  on. To have a rule apply at the edge too, add \`${GATEWAY_NAME}\` to its \`gateways\`.
- **Timing.** \`timeline.sh\` keeps time to the second with \`sleep\`, and a change takes
  as long as Istio takes to push it; mesh-sim waits for every sidecar to acknowledge a
  change before a check's window opens. Judge timeline checks with margins.
- **Kill and restart** scale a Deployment to zero and back (a replica: one fewer);
  a changed app behaviour rolls its Deployment out again.
- **Flow checks** (\`p99(flow:NAME)\`) are the traffic's own view: the Job prints each
  flow's summary at its end (\`kubectl logs\`); \`mesh-sim check\` judges the rest from
  Istio's metrics.
`;
}
