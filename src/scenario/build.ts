// From parsed sections to the Scenario model: defaults applied, versions inheriting
// their service's fields, and the checks that span sections (a call, route, flow or
// event naming a service or version that does not exist, weights, order, cycles).

import {
  DEFAULT_OUTLIER_DETECTION, DEFAULT_RETRY_ON, UNLIMITED, defaultMeshPolicy,
  type Behaviour, type Call, type CallStep, type LocatedCheck, type MeshPolicy,
  type Route, type Scenario, type ServiceSpec, type TimelineEvent, type TrafficFlow, type VersionSpec,
  type InstanceTarget,
} from './model.js';
import type { RawCall, RawCallStep, RawMeshPolicy, RawService, RawTimelineEvent, RawTrafficFlow } from './schema.js';
import type { Path } from './problems.js';
import type { CheckExpr } from './check-expr.js';
import { didYouMean } from './suggest.js';
import { formatDuration } from './units.js';
import { ejectableHosts } from '../policy/outlier.js';

export interface Reporter {
  error(path: Path, message: string, atKey?: boolean): void;
  warn(path: Path, message: string, atKey?: boolean): void;
  /** `FILE:LINE` of a path, for rules that may later be named as a failure's cause. */
  where(path: Path): string;
}

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

export function buildScenario(
  file: string,
  parsed: ParsedSections,
  document: Record<string, unknown>,
  report: Reporter,
): Omit<Scenario, 'name'> & { name: string | undefined } {
  const { services, calls } = buildServices(parsed.services, report);
  const names = new Set(parsed.services.map(([n]) => n));
  const known = new Map(services.map((s) => [s.name, s]));
  const refs = new References(names, known, report);

  checkCalls(calls, refs, report);
  const mesh = parsed.mesh ? buildMesh(parsed.mesh, refs, known, report) : {};
  const traffic = parsed.traffic ? buildTraffic(parsed.traffic, refs, report) : [];
  const timeline = parsed.timeline ? buildTimeline(parsed.timeline, refs, parsed.duration, report) : [];
  const checks = (parsed.checks ?? []).flatMap((expr, i) => (expr ? [buildCheck(expr, ['checks', i], refs)] : []));

  return {
    file,
    name: parsed.name,
    description: parsed.description ?? '',
    seed: parsed.seed,
    durationMs: parsed.duration,
    services,
    mesh,
    traffic,
    timeline,
    checks,
    document,
  };
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
    out.push({ name, port: raw.port, versions, where: report.where(path) });
  }
  return { services: out, calls };
}

function toCall(raw: RawCall): Call {
  return {
    service: raw.service,
    path: raw.path ?? '/',
    method: raw.method ?? 'GET',
    optional: raw.optional ?? false,
    probability: raw.probability ?? 100,
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
  for (const e of edges) out.set(e.from, [...(out.get(e.from) ?? []), e]);
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: CallRef[] = [];
  const visit = (node: string): CallRef[] | undefined => {
    state.set(node, 'visiting');
    for (const edge of out.get(node) ?? []) {
      const s = state.get(edge.to);
      if (s === 'visiting') {
        const start = stack.findIndex((e) => e.from === edge.to);
        return [...stack.slice(start === -1 ? stack.length : start), edge];
      }
      if (s === undefined) {
        stack.push(edge);
        const found = visit(edge.to);
        if (found) return found;
        stack.pop();
      }
    }
    state.set(node, 'done');
    return undefined;
  };
  for (const node of out.keys()) {
    if (state.get(node) === undefined) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return undefined;
}

function buildMesh(
  raw: Record<string, RawMeshPolicy>,
  refs: References,
  services: Map<string, ServiceSpec>,
  report: Reporter,
): Record<string, MeshPolicy> {
  const mesh: Record<string, MeshPolicy> = {};
  for (const [service, policy] of Object.entries(raw)) {
    const path = ['mesh', service];
    if (!refs.service(service, path, true)) continue;
    mesh[service] = buildPolicy(service, policy, path, refs, services.get(service), report);
  }
  return mesh;
}

function buildPolicy(
  service: string,
  raw: RawMeshPolicy,
  path: Path,
  refs: References,
  spec: ServiceSpec | undefined,
  report: Reporter,
): MeshPolicy {
  const policy = defaultMeshPolicy();
  policy.routes = (raw.routes ?? []).map((r, i) => buildRoute(service, r, [...path, 'routes', i], refs, report));
  const catchAll = policy.routes.findIndex((r) => r.matches.length === 0);
  if (catchAll !== -1 && catchAll < policy.routes.length - 1) {
    report.warn([...path, 'routes', catchAll + 1], `this route is never used: routes[${catchAll}] before it matches every request (first match wins)`);
  }
  if (raw.timeout !== undefined) {
    policy.timeoutMs = raw.timeout;
    policy.timeoutWhere = report.where([...path, 'timeout']);
  }
  if (raw.retries) {
    policy.retries = {
      attempts: raw.retries.attempts ?? 2,
      perTryTimeoutMs: raw.retries.perTryTimeout,
      retryOn: raw.retries.retryOn?.conditions ?? [...DEFAULT_RETRY_ON],
      statusCodes: raw.retries.retryOn?.statusCodes ?? [],
      where: report.where([...path, 'retries']),
    };
  }
  if (raw.fault?.delay) {
    policy.delay = {
      percentage: raw.fault.delay.percentage ?? 100,
      fixedDelayMs: raw.fault.delay.fixedDelay,
      where: report.where([...path, 'fault', 'delay']),
    };
  }
  if (raw.fault?.abort) {
    policy.abort = {
      percentage: raw.fault.abort.percentage ?? 100,
      httpStatus: raw.fault.abort.httpStatus,
      where: report.where([...path, 'fault', 'abort']),
    };
  }
  if (raw.mirror && refs.version(service, raw.mirror.version, [...path, 'mirror', 'version'])) {
    policy.mirror = { version: raw.mirror.version, percentage: raw.mirror.percentage ?? 100, where: report.where([...path, 'mirror']) };
  }
  if (raw.connectionPool) {
    policy.connectionPool = {
      maxConnections: raw.connectionPool.maxConnections ?? UNLIMITED,
      http1MaxPendingRequests: raw.connectionPool.http1MaxPendingRequests ?? UNLIMITED,
      where: report.where([...path, 'connectionPool']),
    };
  }
  if (raw.outlierDetection) {
    const od = raw.outlierDetection;
    policy.outlierDetection = {
      consecutive5xxErrors: od.consecutive5xxErrors ?? DEFAULT_OUTLIER_DETECTION.consecutive5xxErrors,
      intervalMs: od.interval ?? DEFAULT_OUTLIER_DETECTION.intervalMs,
      baseEjectionTimeMs: od.baseEjectionTime ?? DEFAULT_OUTLIER_DETECTION.baseEjectionTimeMs,
      maxEjectionPercent: od.maxEjectionPercent ?? DEFAULT_OUTLIER_DETECTION.maxEjectionPercent,
      where: report.where([...path, 'outlierDetection']),
    };
  }
  warnAboutSurprises(service, raw, policy, path, spec, report);
  return policy;
}

function buildRoute(service: string, raw: NonNullable<RawMeshPolicy['routes']>[number], path: Path, refs: References, report: Reporter): Route {
  const matches = (raw.match ?? []).map((m) => ({
    headers: Object.entries(m.headers ?? {}).map(([name, match]) => ({ name: name.toLowerCase(), ...match })),
    path: m.path,
  }));
  const destinations = raw.route.map((d, j) => {
    refs.version(service, d.version, [...path, 'route', j, 'version']);
    return { version: d.version, weight: d.weight };
  });
  const seen = new Set<string>();
  destinations.forEach((d, j) => {
    if (seen.has(d.version)) report.error([...path, 'route', j, 'version'], `version \`${d.version}\` is named twice in this route; give it one weight`);
    seen.add(d.version);
  });
  const given = destinations.filter((d) => d.weight !== undefined);
  let weighted: Array<{ version: string; weight: number }>;
  if (given.length === 0) {
    if (destinations.length > 1) {
      report.error([...path, 'route'], `${destinations.length} destinations need a weight each, summing to 100`);
    }
    weighted = destinations.map((d) => ({ version: d.version, weight: destinations.length === 1 ? 100 : 0 }));
  } else {
    if (given.length < destinations.length) {
      report.error([...path, 'route'], 'give every destination a weight (they must sum to 100), or none when there is only one');
    }
    const sum = given.reduce((t, d) => t + (d.weight ?? 0), 0);
    if (given.length === destinations.length && sum !== 100) {
      report.error([...path, 'route'], `weights sum to ${sum}, not 100`);
    }
    weighted = destinations.map((d) => ({ version: d.version, weight: d.weight ?? 0 }));
  }
  return { matches, destinations: weighted, where: report.where(path) };
}

/** Rules that will not do what they seem to: kept as Istio has them, but said out loud. */
function warnAboutSurprises(
  service: string,
  raw: RawMeshPolicy,
  policy: MeshPolicy,
  path: Path,
  spec: ServiceSpec | undefined,
  report: Reporter,
): void {
  const retriesPath = [...path, 'retries'];
  if (raw.retries && policy.retries.attempts > 0 && policy.abort) {
    report.warn(retriesPath, policy.abort.percentage >= 100
      ? `these retries never happen: every call is aborted by fault.abort, and injected aborts are not retried`
      : `injected aborts (${policy.abort.percentage} % of calls) are not retried: the fault is decided before the call leaves the caller`);
  }
  const { perTryTimeoutMs } = policy.retries;
  if (raw.retries && policy.timeoutMs !== undefined && perTryTimeoutMs !== undefined && perTryTimeoutMs >= policy.timeoutMs && policy.retries.attempts > 0) {
    report.warn(retriesPath, `perTryTimeout ${formatDuration(perTryTimeoutMs)} is not shorter than timeout ${formatDuration(policy.timeoutMs)}: the whole request times out before a retry can start`);
  }
  if (raw.retries && policy.retries.attempts > 0 && spec) {
    const failing = spec.versions.filter((v) => v.errorRate > 0 && v.errorStatus >= 500 && !retriesOnStatus(policy, v.errorStatus));
    if (failing.length > 0) {
      const v = failing[0]!;
      report.warn(retriesPath, `${service}'s own ${v.errorStatus}s (errorRate ${v.errorRate}) are not retried: retryOn (${policy.retries.retryOn.join(',')}) has no 5xx${v.errorStatus >= 502 && v.errorStatus <= 504 ? ' or gateway-error' : ''}`);
    }
  }
  const od = policy.outlierDetection;
  if (spec && od) {
    // The clusters ejection works in: one per routed version, or all instances when unrouted.
    const routed = new Set(policy.routes.flatMap((r) => r.destinations.map((d) => d.version)));
    const clusters = routed.size === 0
      ? [{ name: service, hosts: spec.versions.reduce((n, v) => n + v.replicas, 0) }]
      : spec.versions.filter((v) => routed.has(v.name)).map((v) => ({ name: `${service} ${v.name}`, hosts: v.replicas }));
    const stuck = clusters.filter((c) => c.hosts > 0 && ejectableHosts(c.hosts, od.maxEjectionPercent) === 0);
    if (stuck.length > 0) {
      const c = stuck[0]!;
      const needed = Math.ceil(100 / c.hosts);
      report.warn([...path, 'outlierDetection'], `maxEjectionPercent ${od.maxEjectionPercent} ejects no host from ${c.name} (${c.hosts} ` +
        `host${c.hosts === 1 ? '' : 's'}): Envoy keeps the ejected share within it, and 1 of ${c.hosts} is ${Math.round(100 / c.hosts)} %; ` +
        `set it to at least ${needed} to see ejections`);
    }
  }
  if (spec) {
    for (const route of policy.routes) {
      for (const d of route.destinations) {
        const version = spec.versions.find((v) => v.name === d.version);
        if (version && version.replicas === 0 && d.weight > 0) {
          report.warn([...path, 'routes'], `${service} ${d.version} has 0 replicas: its share of this route answers 503 (no healthy upstream)`);
        }
      }
    }
  }
}

export function retriesOnStatus(policy: MeshPolicy, status: number): boolean {
  const on = policy.retries.retryOn;
  if (on.includes('5xx') && status >= 500) return true;
  if (on.includes('gateway-error') && status >= 502 && status <= 504) return true;
  if (on.includes('retriable-4xx') && status === 409) return true;
  return policy.retries.statusCodes.includes(status);
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
      id: flow.name ?? `flow-${i}`,
      name: flow.name,
      to: flow.to,
      path: flow.path ?? '/',
      method: flow.method ?? 'GET',
      rps: flow.rps,
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

function buildCheck(expr: CheckExpr, path: Path, refs: References): LocatedCheck {
  if (refs.service(expr.service, path) && expr.version !== undefined) refs.version(expr.service, expr.version, path);
  return { expr, where: refs.report.where(path) };
}

function buildTimeline(raw: Array<RawTimelineEvent | undefined>, refs: References, durationMs: number | undefined, report: Reporter): TimelineEvent[] {
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
      kill: buildTarget(event.kill, [...path, 'kill'], refs),
      restart: buildTarget(event.restart, [...path, 'restart'], refs),
      check: event.check ? buildCheck(event.check, [...path, 'check'], refs) : undefined,
      where: report.where(path),
    }];
  });
}
