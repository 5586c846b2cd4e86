// From parsed sections to the Scenario model: defaults applied, versions inheriting
// their service's fields, and the checks that span sections (a call, route, flow or
// event naming a service or version that does not exist, weights, order, cycles).

import { canonicalKind } from '../istio/documents.js';
import { MESH_WIDE_KINDS, ROOT_NAMESPACE } from '../istio/schema.js';
import { NAMESPACE } from '../istio/resources.js';
import type {
  Behaviour, Call, CallStep, LocatedCheck, ResourceRef, Scenario, ServiceSpec, TimelineEvent, TrafficFlow, VersionSpec, InstanceTarget,
} from './model.js';
import type { RawCall, RawCallStep, RawMeshPolicy, RawService, RawTimelineEvent, RawTrafficFlow } from './schema.js';
import type { Path } from './problems.js';
import type { CheckExpr } from './check-expr.js';
import { didYouMean } from './suggest.js';
import { formatDuration } from './units.js';
import { compileResources, indexServices } from '../istio/compile.js';
import { shorthandResources } from '../istio/shorthand.js';
import { describeResource, type IstioResource } from '../istio/resources.js';

export type { Reporter } from './report.js';
import type { Reporter } from './report.js';
import { LIMITS } from './limits.js';

/** Sections that parsed; a section or service that failed is absent but its name is known. */
export interface ParsedSections {
  name: string | undefined;
  description: string | undefined;
  seed: number | undefined;
  duration: number | undefined;
  /** Every service named in the file, with its parsed spec or undefined when that failed. */
  services: Array<[string, RawService | undefined]>;
  mesh: Record<string, RawMeshPolicy> | undefined;
  /** Lists keep a hole (undefined) where an item did not parse, so indexes stay true. */
  traffic: Array<RawTrafficFlow | undefined> | undefined;
  timeline: Array<RawTimelineEvent | undefined> | undefined;
  checks: Array<CheckExpr | undefined> | undefined;
}

const DEFAULT_VERSION = 'v1';
const DEFAULT_RESPONSE_SIZE = 128;

/** What a state's Istio resources are, beside the document: `istio:`, `include:` and the timeline's applies. */
export interface StateResources {
  /** The Istio resources in force, in the order they were written or applied. */
  resources: IstioResource[];
  /** Each timeline event's `apply`, parsed, by event index. */
  applies: Map<number, IstioResource[]>;
}

export function buildScenario(
  file: string,
  parsed: ParsedSections,
  document: Record<string, unknown>,
  report: Reporter,
  state: StateResources = { resources: [], applies: new Map() },
): Omit<Scenario, 'name'> & { name: string | undefined } {
  const { services, calls } = buildServices(parsed.services, report);
  const names = new Set(parsed.services.map(([n]) => n));
  const known = new Map(services.map((s) => [s.name, s]));
  const refs = new References(names, known, report);

  checkCalls(calls, refs, report);
  const tcp = new Set(services.filter((svc) => svc.protocol === 'tcp').map((svc) => svc.name));
  for (const call of calls) {
    if (tcp.has(call.to)) report.error(call.path, `${call.to} is a tcp service: an HTTP call cannot reach it (send it a traffic flow, which opens TCP connections)`);
  }
  const shorthand = parsed.mesh ? buildShorthand(parsed.mesh, refs, services, report) : [];
  const istio = [...shorthand, ...state.resources];
  checkOneForm(shorthand, state.resources, services);
  const { config } = compileResources(istio, services);
  const traffic = parsed.traffic ? buildTraffic(parsed.traffic, refs, report) : [];
  // A check may name a flow that a timeline `set` brings in later.
  const flowIds = new Set([...traffic.map((f) => f.id), ...flowsSetLater(document)]);
  const timeline = parsed.timeline ? buildTimeline(parsed.timeline, refs, parsed.duration, report, state.applies, flowIds) : [];
  const checks = (parsed.checks ?? []).flatMap((expr, i) => (expr ? [buildCheck(expr, ['checks', i], refs, flowIds)] : []));

  return {
    file,
    name: parsed.name,
    description: parsed.description ?? '',
    seed: parsed.seed,
    durationMs: parsed.duration,
    services,
    istio,
    config,
    traffic,
    timeline,
    checks,
    document,
  };
}

/** Names of the flows a timeline `set` of `traffic` names. */
function flowsSetLater(document: Record<string, unknown>): string[] {
  const timeline = Array.isArray(document.timeline) ? document.timeline : [];
  return timeline.flatMap((event) => {
    const traffic = (event as { set?: { traffic?: unknown } } | null)?.set?.traffic;
    return Array.isArray(traffic) ? traffic.flatMap((f) => (typeof (f as { name?: unknown })?.name === 'string' ? [(f as { name: string }).name] : [])) : [];
  });
}

/** A host takes its policy from `mesh:` or from Istio resources, never both. */
function checkOneForm(shorthand: IstioResource[], resources: IstioResource[], services: readonly ServiceSpec[]): void {
  const index = indexServices(services);
  const short = new Map<string, IstioResource>();
  for (const r of shorthand) short.set(r.name, r);
  for (const r of resources) {
    const spec = r.spec as { hosts?: string[]; host?: string };
    const hosts = spec.hosts ?? (spec.host !== undefined ? [spec.host] : []);
    hosts.forEach((h, i) => {
      const host = [...index.names].find((n) => h === n || h.startsWith(`${n}.`));
      const other = host && short.get(host);
      if (!other) return;
      r.report.error(['spec', ...(spec.hosts ? ['hosts', i] : ['host'])],
        `the \`mesh:\` shorthand (${other.origin.where}) already configures ${host}: a host takes its policy from \`mesh:\` or from Istio resources, not both (${describeResource(r)} here)`);
    });
  }
}

/** Name look-ups that report what is missing with the nearest existing name. */
class References {
  constructor(
    private readonly names: Set<string>,
    private readonly services: Map<string, ServiceSpec>,
    readonly report: Reporter,
  ) {}

  service(name: string, path: Path, atKey = false): boolean {
    if (this.names.has(name)) return true;
    this.report.error(path, `no service \`${name}\`${didYouMean(name, this.names)}; services: ${[...this.names].join(', ')}`, atKey);
    return false;
  }

  /** True when the version exists or cannot be judged because its service did not parse. */
  version(service: string, version: string, path: Path): boolean {
    const spec = this.services.get(service);
    if (!spec) return true;
    const versions = spec.versions.map((v) => v.name);
    if (versions.includes(version)) return true;
    this.report.error(path, `${service} has no version \`${version}\`${didYouMean(version, versions)}; its versions: ${versions.join(', ')}`);
    return false;
  }

  spec(service: string): ServiceSpec | undefined {
    return this.services.get(service);
  }
}

function buildServices(entries: Array<[string, RawService | undefined]>, report: Reporter): { services: ServiceSpec[]; calls: CallRef[] } {
  if (entries.length === 0) report.error(['services'], 'a scenario needs at least one service');
  const out: ServiceSpec[] = [];
  const calls: CallRef[] = [];
  for (const [name, raw] of entries) {
    if (!raw) continue;
    const path = ['services', name];
    calls.push(...callRefs(name, raw.calls, [...path, 'calls']));
    for (const [version, v] of Object.entries(raw.versions ?? {})) {
      calls.push(...callRefs(name, v.calls, [...path, 'versions', version, 'calls']));
    }
    const base: Behaviour = {
      latency: raw.latency ?? { kind: 'constant', ms: 0 },
      errorRate: raw.errorRate ?? 0,
      errorStatus: raw.errorStatus ?? 500,
      responseSize: raw.responseSize ?? DEFAULT_RESPONSE_SIZE,
      calls: (raw.calls ?? []).map(toCallStep),
      image: raw.image,
      command: raw.command,
    };
    const replicas = raw.replicas ?? 1;
    const rawVersions = raw.versions ? Object.entries(raw.versions) : [];
    if (raw.versions && rawVersions.length === 0) {
      report.error([...path, 'versions'], 'versions is empty: name at least one (e.g. `v1: {}`), or leave it out');
    }
    const versions: VersionSpec[] = rawVersions.length === 0
      ? [{ name: DEFAULT_VERSION, replicas, ...base, where: report.where(path) }]
      : rawVersions.map(([version, v]) => ({
          name: version,
          replicas: v.replicas ?? replicas,
          latency: v.latency ?? base.latency,
          errorRate: v.errorRate ?? base.errorRate,
          errorStatus: v.errorStatus ?? base.errorStatus,
          responseSize: v.responseSize ?? base.responseSize,
          calls: v.calls ? v.calls.map(toCallStep) : base.calls,
          image: v.image ?? base.image,
          command: v.command ?? base.command,
          where: report.where([...path, 'versions', version]),
        }));
    for (const v of versions) {
      const count = v.calls.reduce((n, step) => n + (step.kind === 'call' ? 1 : step.calls.length), 0);
      if (count > LIMITS.callsPerRequest) report.error([...path, 'calls'], `${count} calls; a service makes at most ${LIMITS.callsPerRequest} per request`);
    }
    const protocol = raw.protocol ?? 'http';
    if (protocol === 'tcp') checkTcpService(raw, path, report);
    out.push({ name, port: raw.port, sidecar: raw.sidecar ?? true, protocol, serviceAccount: raw.serviceAccount ?? name, versions, where: report.where(path) });
  }
  const instances = out.reduce((n, s) => n + s.versions.reduce((m, v) => m + v.replicas, 0), 0);
  if (instances > LIMITS.instances) {
    report.error(['services'], `${instances} instances in all (services × versions × replicas); one machine runs at most ${LIMITS.instances}`, true);
  }
  return { services: out, calls };
}

/** A TCP echo service answers each line it reads after its latency: HTTP behaviour means nothing to it. */
function checkTcpService(raw: RawService, path: Path, report: Reporter): void {
  if (raw.sidecar === false) report.error([...path, 'sidecar'], 'a tcp service outside the mesh is not simulated yet: give it a sidecar, or make it http');
  const http = ['calls', 'errorRate', 'errorStatus', 'responseSize'] as const;
  const where = [raw, ...Object.values(raw.versions ?? {})];
  for (const field of http) {
    if (where.some((v) => v?.[field] !== undefined)) {
      report.error([...path, field], `a tcp service is an echo service: it answers each line it reads after its latency, so \`${field}\` has no meaning for it (remove it, or make the service http)`);
    }
  }
}

function toCall(raw: RawCall): Call {
  return {
    service: raw.service,
    path: raw.path ?? '/',
    method: raw.method ?? 'GET',
    optional: raw.optional ?? false,
    probability: raw.probability ?? 100,
    timeoutMs: raw.timeout === undefined || raw.timeout === 0 ? undefined : raw.timeout,
    retries: raw.retries ?? 0,
    fallback: raw.fallback,
  };
}

function toCallStep(raw: RawCallStep): CallStep {
  return 'parallel' in raw ? { kind: 'parallel', calls: raw.parallel.map(toCall) } : { kind: 'call', call: toCall(raw.call) };
}

interface CallRef {
  from: string;
  to: string;
  path: Path;
}

function callRefs(from: string, steps: RawCallStep[] | undefined, path: Path): CallRef[] {
  return (steps ?? []).flatMap((step, i) =>
    'parallel' in step
      ? step.parallel.map((c, j) => ({ from, to: c.service, path: [...path, i, 'parallel', j] }))
      : [{ from, to: step.call.service, path: [...path, i] }],
  );
}

/** Every call's target exists, and no chain of calls leads back to its caller. */
function checkCalls(calls: CallRef[], refs: References, report: Reporter): void {
  const valid = calls.filter((call) => refs.service(call.to, call.path));
  const cycle = findCycle(valid);
  if (cycle) {
    const names = [...cycle.map((e) => e.from), cycle[0]!.from].join(' → ');
    report.error(cycle[cycle.length - 1]!.path, `calls go round in a circle (${names}): every request would call forever`);
  }
}

function findCycle(edges: CallRef[]): CallRef[] | undefined {
  const out = new Map<string, CallRef[]>();
  for (const e of edges) {
    const list = out.get(e.from);
    if (list) list.push(e);
    else out.set(e.from, [e]);
  }
  const state = new Map<string, 'visiting' | 'done'>();
  // Depth first without recursion: a chain of any length cannot overflow the stack.
  for (const start of out.keys()) {
    if (state.has(start)) continue;
    const path: CallRef[] = [];
    const frames: Array<{ node: string; next: number }> = [{ node: start, next: 0 }];
    state.set(start, 'visiting');
    while (frames.length > 0) {
      const frame = frames[frames.length - 1]!;
      const edge = (out.get(frame.node) ?? [])[frame.next++];
      if (!edge) {
        state.set(frame.node, 'done');
        frames.pop();
        path.pop();
        continue;
      }
      const seen = state.get(edge.to);
      if (seen === 'visiting') {
        const from = path.findIndex((e) => e.from === edge.to);
        return [...path.slice(from === -1 ? path.length : from), edge];
      }
      if (seen === undefined) {
        state.set(edge.to, 'visiting');
        path.push(edge);
        frames.push({ node: edge.to, next: 0 });
      }
    }
  }
  return undefined;
}

/** The shorthand's own rules (names, weights summing to 100), then the resources it means. */
function buildShorthand(raw: Record<string, RawMeshPolicy>, refs: References, services: ServiceSpec[], report: Reporter): IstioResource[] {
  const valid: Record<string, RawMeshPolicy> = {};
  for (const [service, policy] of Object.entries(raw)) {
    const path = ['mesh', service];
    if (!refs.service(service, path, true)) continue;
    let ok = true;
    (policy.routes ?? []).forEach((r, i) => {
      if (!checkShorthandRoute(service, r, [...path, 'routes', i], refs, report)) ok = false;
    });
    if (policy.mirror && !refs.version(service, policy.mirror.version, [...path, 'mirror', 'version'])) ok = false;
    if (ok) valid[service] = policy;
  }
  return shorthandResources(valid, services, report);
}

function checkShorthandRoute(service: string, raw: NonNullable<RawMeshPolicy['routes']>[number], path: Path, refs: References, report: Reporter): boolean {
  let ok = true;
  raw.route.forEach((d, j) => {
    if (!refs.version(service, d.version, [...path, 'route', j, 'version'])) ok = false;
  });
  const seen = new Set<string>();
  raw.route.forEach((d, j) => {
    if (seen.has(d.version)) {
      report.error([...path, 'route', j, 'version'], `version \`${d.version}\` is named twice in this route; give it one weight`);
      ok = false;
    }
    seen.add(d.version);
  });
  const given = raw.route.filter((d) => d.weight !== undefined);
  if (given.length === 0) {
    if (raw.route.length > 1) {
      report.error([...path, 'route'], `${raw.route.length} destinations need a weight each, summing to 100`);
      ok = false;
    }
  } else {
    if (given.length < raw.route.length) {
      report.error([...path, 'route'], 'give every destination a weight (they must sum to 100), or none when there is only one');
      ok = false;
    }
    const sum = given.reduce((t, d) => t + (d.weight ?? 0), 0);
    if (given.length === raw.route.length && sum !== 100) {
      report.error([...path, 'route'], `weights sum to ${sum}, not 100`);
      ok = false;
    }
  }
  return ok;
}

function buildTraffic(raw: Array<RawTrafficFlow | undefined>, refs: References, report: Reporter): TrafficFlow[] {
  const names = new Set<string>();
  return raw.flatMap((flow, i): TrafficFlow[] => {
    if (!flow) return [];
    const path = ['traffic', i];
    refs.service(flow.to, [...path, 'to']);
    if (flow.name !== undefined) {
      if (names.has(flow.name)) report.error([...path, 'name'], `another flow is named \`${flow.name}\`: names identify flows across timeline changes`);
      names.add(flow.name);
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(flow.headers ?? {})) {
      if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) report.error([...path, 'headers', name], `\`${name}\` is not a valid header name`, true);
      headers[name.toLowerCase()] = value;
    }
    return [{
      id: flow.name ?? `flow-${i + 1}`,
      name: flow.name,
      to: flow.to,
      path: flow.path ?? '/',
      method: flow.method ?? 'GET',
      rps: flow.rps,
      concurrency: flow.concurrency,
      requests: flow.requests,
      arrival: flow.arrival ?? 'poisson',
      headers,
      where: report.where(path),
    }];
  });
}

function buildTarget(raw: RawTimelineEvent['kill'], path: Path, refs: References): InstanceTarget | undefined {
  if (!raw) return undefined;
  if (refs.service(raw.service, [...path, 'service']) && raw.version !== undefined) {
    refs.version(raw.service, raw.version, [...path, 'version']);
  }
  const spec = refs.spec(raw.service);
  if (spec && raw.replica !== undefined) {
    const versions = raw.version === undefined ? spec.versions : spec.versions.filter((v) => v.name === raw.version);
    const most = Math.max(0, ...versions.map((v) => v.replicas));
    if (raw.replica >= most) refs.report.error([...path, 'replica'], `replica ${raw.replica} does not exist: replicas are numbered from 0 to ${most - 1}`);
  }
  return { service: raw.service, version: raw.version, replica: raw.replica };
}

function buildCheck(expr: CheckExpr, path: Path, refs: References, flows: ReadonlySet<string>): LocatedCheck {
  if (expr.flow) {
    if (!flows.has(expr.service)) {
      refs.report.error(path, `no flow \`${expr.service}\`${didYouMean(expr.service, flows)}; flows: ${[...flows].join(', ') || 'none'}`);
    }
  } else if (refs.service(expr.service, path) && expr.version !== undefined) {
    refs.version(expr.service, expr.version, path);
  }
  return { expr, where: refs.report.where(path) };
}

function buildDeletes(raw: RawTimelineEvent['delete'], path: Path, report: Reporter): ResourceRef[] | undefined {
  return raw?.map((d, j) => {
    const kind = canonicalKind(d.kind);
    const namespace = d.namespace ?? NAMESPACE;
    const rootOk = namespace === ROOT_NAMESPACE && MESH_WIDE_KINDS.includes(kind);
    if (namespace !== NAMESPACE && !rootOk) {
      const root = MESH_WIDE_KINDS.includes(kind) ? `, or \`${ROOT_NAMESPACE}\` for a mesh-wide ${kind}` : '';
      report.error([...path, j, 'namespace'], `mesh-sim's resources all live in namespace \`${NAMESPACE}\`${root}`);
    }
    return { kind: d.kind, namespace: rootOk ? namespace : NAMESPACE, name: d.name };
  });
}

function buildTimeline(
  raw: Array<RawTimelineEvent | undefined>, refs: References, durationMs: number | undefined, report: Reporter,
  applies: Map<number, IstioResource[]>, flows: ReadonlySet<string>,
): TimelineEvent[] {
  let previous = 0;
  return raw.flatMap((event, i): TimelineEvent[] => {
    if (!event) return [];
    const path = ['timeline', i];
    if (event.at < previous) {
      report.error([...path, 'at'], `out of order: ${formatDuration(event.at)} comes after an event at ${formatDuration(previous)}; list events in time order`);
    }
    previous = Math.max(previous, event.at);
    if (durationMs !== undefined && event.at > durationMs) {
      report.warn([...path, 'at'], `${formatDuration(event.at)} is after the run ends (duration ${formatDuration(durationMs)}): \`mesh-sim run\` never reaches it`);
    }
    return [{
      index: i,
      atMs: event.at,
      say: event.say,
      set: event.set,
      apply: event.apply ? applies.get(i) ?? [] : undefined,
      delete: buildDeletes(event.delete, [...path, 'delete'], report),
      kill: buildTarget(event.kill, [...path, 'kill'], refs),
      restart: buildTarget(event.restart, [...path, 'restart'], refs),
      check: event.check ? buildCheck(event.check, [...path, 'check'], refs, flows) : undefined,
      where: report.where(path),
    }];
  });
}
