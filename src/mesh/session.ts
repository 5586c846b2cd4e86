// A running mesh: the control plane and collector (the hub), every instance on a
// runtime, the traffic, and the timeline. It starts them in order, waits until every
// sidecar is healthy and has the current config, and stops them all in order so that
// nothing is left running and no span is lost.

import type { BatchForwarder } from '../telemetry/forward/batch-forwarder.js';
import { forwardingFrom, type Forwarding } from '../telemetry/forward/setup.js';
import { EventEmitter } from 'node:events';
import type { LoadedScenario } from '../scenario/load.js';
import type { Scenario, TimelineEvent } from '../scenario/model.js';
import { formatDuration } from '../scenario/units.js';
import { ControlPlane, servicePorts, type InstanceIdentity } from '../control/plane.js';
import { FlowStats, RequestStats, type Window } from '../telemetry/stats.js';
import { SpanAttribution } from '../telemetry/attribution.js';
import { WindowBook, type CheckWindow } from '../telemetry/windows.js';
import { TraceStore } from '../telemetry/traces.js';
import { judge, type CheckResult } from '../telemetry/judge.js';
import { logRecordOf, type LogRecord } from '../telemetry/access-log.js';
import { isConnectionRecord, type Span } from '../telemetry/span.js';
import { TrafficGenerator, type TrafficCounts } from '../traffic/generator.js';
import { SelfLoadMonitor } from '../self-load/monitor.js';
import type { OverloadTotals } from '../self-load/watch.js';
import {
  InstanceStartError, type ExitInfo, type InstancePlan, type MeshEnvironment, type LogLine, type Observability, type Runtime, type RuntimeFactory, type RuntimeOptions, type StartedInstance,
} from '../runtime/runtime.js';
import { PodDirectory } from './pod-directory.js';
import { Reaper } from '../runtime/reaper.js';
import { Hub } from './hub.js';
import { authorization } from '../control/http.js';
import { gatewayPlan, matchInstances, planInstances } from './plan.js';
import { TimelineRunner } from './timeline.js';
import { scenarioChanges, type ScenarioChanges } from './changes.js';

/** Like a readiness probe failing and endpoints catching up: how long a dead instance stays listed. */
export const ENDPOINT_GRACE_MS = 2000;
const READY_TIMEOUT_MS = 30_000;
/** Longest a check waits for its window's requests to be answered; past it, it is judged on what came. */
const CHECK_WAIT_MS = 60_000;
/**
 * Longest a config push waits for the requests that started before it (and those a busy
 * machine has not sent yet) to be answered; past it, the change goes out anyway and a
 * request still in flight makes its later calls under it.
 */
const DRAIN_BEFORE_PUSH_MS = 2_000;
/** Longest a flush of every sidecar's telemetry may take before a check is judged anyway. */
const FLUSH_WAIT_MS = 5_000;

export type InstanceState = 'starting' | 'ready' | 'killed' | 'exited';

export interface InstanceStatus {
  plan: InstancePlan;
  state: InstanceState;
  started: StartedInstance | undefined;
  /** Bumped on every (re)start, so a stale exit or removal is ignored. */
  generation: number;
  since: number;
}

export interface SessionOptions {
  runtimeFactory: RuntimeFactory;
  /** What the user said about where the mesh runs (`--nodes`). */
  runtimeOptions?: RuntimeOptions;
  seed: number;
  /** Keep windows of per-second statistics this long (the whole run for `run`). */
  retentionSeconds?: number;
  readyTimeoutMs?: number;
  /** The collector's clock, which decides what is old; a benchmark replays an hour on a fake one. */
  clock?: () => number;
  /** Where every span the collector takes is also sent (`--otlp-endpoint`). */
  forward?: BatchForwarder;
  /** Told of everything the statistics, traces and checks are made of (`--record`). */
  tap?: SessionTap;
}

/**
 * What the run's numbers are made of, in the order they happened: a recording that
 * feeds the same calls to fresh statistics gets the same numbers (src/record).
 */
export interface SessionTap {
  /** Spans the collector took at `nowMs`, before anything counts them. */
  received(spans: readonly Span[], nowMs: number): void;
  /** A sidecar span counted in the statistics, at `nowMs`, in `segment`. */
  counted(span: Span, nowMs: number, segment: number): void;
  /** A request's answer, as its traffic flow saw it. */
  answered(flow: string, nowMs: number, segment: number, status: number, latencyMs: number, degraded: boolean): void;
  /** The traces were settled at `nowMs` (`final`: the run is over). */
  settled(nowMs: number, final: boolean): void;
  /** The desired state in force changed (the start, a timeline push, a live edit). */
  scenario(state: Scenario, timeline: readonly TimelineEvent[]): void;
  /** A check was judged on `window` (undefined: the whole run of `runSeconds`). */
  judged(result: CheckResult, window: Window | undefined, runSeconds: number): void;
  /** Traffic began, or ended. */
  traffic(startedAt: number | undefined, endedAt: number | undefined): void;
  /** A line a pod wrote, as written (nothing parsed for it). */
  logged(line: LogLine): void;
}

export interface SessionEvents {
  progress: [message: string];
  warning: [message: string];
  /** mesh-sim fell behind its own traffic (what was busy, what to do), or keeps up again. */
  overload: [state: 'overloaded' | 'recovered', message: string];
  instance: [status: InstanceStatus];
  say: [text: string, event: TimelineEvent];
  event: [event: TimelineEvent];
  check: [result: CheckResult];
  /** A config version reached `acked` of `total` sidecars, in `ms`. */
  pushed: [version: number, acked: number, total: number, ms: number];
  spans: [spans: Span[]];
  /** A live edit of the scenario file is being applied: what it changes, in kubectl's words. */
  applied: [lines: readonly string[]];
  log: [record: LogRecord, line: LogLine];
}

export class MeshSession extends EventEmitter<SessionEvents> {
  readonly runId = `ms${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  readonly seed: number;
  /** How long per-second statistics are kept. */
  readonly retentionSeconds: number;
  readonly stats: RequestStats;
  /** Each traffic flow as its client saw it. */
  readonly flowStats: FlowStats;
  /** Which window each request belongs to (the contract's check windows). */
  readonly windows = new WindowBook();
  private readonly attribution: SpanAttribution;
  readonly traces = new TraceStore();
  readonly plane: ControlPlane;
  readonly runtime: Runtime;
  private reaper: Reaper | undefined;
  /** Where other mesh-sim commands find this mesh's pods (`mesh-sim proxy`). */
  private pods: PodDirectory | undefined;
  readonly instances = new Map<string, InstanceStatus>();
  readonly checkResults: CheckResult[] = [];
  scenario: Scenario;
  traffic: TrafficGenerator | undefined;
  timeline: TimelineRunner | undefined;
  trafficStartedAt: number | undefined;
  trafficEndedAt: number | undefined;
  private readonly hub: Hub;
  private readonly plans: InstancePlan[];
  /** Each service's port, as the traffic addresses it (a live edit may add services). */
  private readonly ports: Record<string, number> = {};
  /** The services that speak TCP (their flows open connections). */
  private readonly tcpServices = new Set<string>();
  /** What a pod started later (by a live edit) is given. */
  private environment: MeshEnvironment | undefined;
  /** Live edits, one after another. */
  private applying: Promise<void> = Promise.resolve();
  private readonly gateway = gatewayPlan();
  private readonly identities = new Map<string, InstanceIdentity>();
  private settleTimer: NodeJS.Timeout | undefined;
  private readonly pendingChecks = new Set<Promise<void>>();
  private startupFailure: ((error: Error) => void) | undefined;
  private stopped = false;
  /** What a client of the collector must send (an app's own SDK, a test): the run's secret. */
  get collectorHeaders(): Record<string, string> {
    return { authorization: authorization(this.hub.secret) };
  }

  /** The run's certificate authority (the mesh's root, and what signs each sidecar's certificate). */
  certificateAuthority(): Promise<import('../identity/ca.js').CertificateAuthority> {
    return this.hub.ca();
  }

  /** Spans dropped at the end because their request was never answered. */
  unansweredSpans = 0;
  /** Where the collector takes OTLP/HTTP spans from this machine (for apps' own SDKs). */
  collectorUrl: string | undefined;
  /** Spans to the Jaeger started beside the mesh (`--jaeger`). */
  jaegerForward: Forwarding | undefined;
  /** Prometheus and Grafana, once started (startObservability). */
  observability: Observability | undefined;
  /** Whether mesh-sim itself keeps up with the traffic (warnings as it falls behind, totals for the summary). */
  readonly selfLoad: SelfLoadMonitor;

  constructor(private loaded: LoadedScenario, private readonly options: SessionOptions) {
    super();
    this.scenario = loaded.scenario;
    this.seed = options.seed;
    this.retentionSeconds = options.retentionSeconds ?? 900;
    this.stats = new RequestStats(this.retentionSeconds);
    this.flowStats = new FlowStats(this.retentionSeconds);
    const tap = options.tap;
    const counted = tap ? { add: (span: Span, nowMs: number, segment: number) => {
      this.stats.add(span, nowMs, segment);
      tap.counted(span, nowMs, segment);
    } } : this.stats;
    this.attribution = new SpanAttribution(counted, this.windows, (flow, n) => this.traffic?.isInFlight(flow, n) ?? false, options.clock ?? Date.now);
    this.plane = new ControlPlane(this.scenario, this.seed);
    this.plans = planInstances(this.scenario);
    this.selfLoad = new SelfLoadMonitor({
      overloaded: (message) => this.emit('overload', 'overloaded', message),
      recovered: (message) => this.emit('overload', 'recovered', message),
    }, () => this.timeline?.elapsed() ?? 0);
    this.runtime = options.runtimeFactory({
      onLog: (line) => this.onLog(line),
      onExit: (id, info) => this.onExit(id, info),
      onLoad: (source, busy) => this.selfLoad.report(source, busy),
    }, this.runId, options.runtimeOptions);
    this.hub = new Hub(this.plane, (id) => this.identities.get(id), (spans) => this.onSpans(spans), (source, busy) => this.selfLoad.report(source, busy));
    this.plane.on('ack', (instance: string, version: number) => this.onAck(instance, version));
    // Every instance is known, as starting, from the outset: a UI can list them at once.
    for (const plan of [...this.plans, this.gateway]) {
      this.instances.set(plan.id, { plan, state: 'starting', started: undefined, generation: 1, since: Date.now() });
    }
  }

  get instancePlans(): readonly InstancePlan[] {
    return this.plans;
  }

  /** The scenario's timeline as written (the current scenario state has none). */
  get timelineEvents(): readonly TimelineEvent[] {
    return this.loaded.scenario.timeline;
  }

  /** Starts everything; resolves when every instance is ready and every sidecar has the current config. */
  async start(): Promise<void> {
    const began = performance.now();
    // Before anything starts: should mesh-sim die from here on, the reaper removes what it started.
    this.reaper = Reaper.start(this.runtime.name, this.runId);
    this.pods = new PodDirectory(this.runId, this.scenario.name);
    try {
      const prep = await this.runtime.prepare((m) => this.emit('progress', m));
      const port = await this.hub.listen(prep.listenHosts);
      // The root is made while the pods start (a refusal reaches the first signing request),
      // not when their first signing requests come and would wait for it.
      this.hub.ca().catch(() => {});
      const controlUrl = `http://${prep.controlHost}:${port}`;
      this.collectorUrl = `http://127.0.0.1:${port}`;
      this.settleTimer = setInterval(() => this.settle(false), 500);
      const all = [...this.plans, this.gateway];
      for (const plan of all) {
        this.identities.set(plan.id, { instance: plan.id, service: plan.service, version: plan.version, serviceAccount: plan.serviceAccount, host: '', port: 0 });
        this.plane.register(this.identities.get(plan.id)!);
      }
      this.emit('progress', `starting ${all.length} instances (${this.plans.length} services' pods and the ingress gateway) on the ${this.runtime.name} runtime`);
      const failed = new Promise<never>((_, reject) => (this.startupFailure = reject));
      failed.catch(() => {});
      const env: MeshEnvironment = this.environment = {
        controlUrl,
        controlSecret: this.hub.secret,
        initialWorkload: (plan: InstancePlan) => this.plane.workloadSnapshot(plan.service, plan.version)!,
      };
      const starting = all.map(async (plan) => {
        const started = await this.runtime.start(plan, env);
        this.located(plan, started);
        return started;
      });
      await Promise.race([Promise.all(starting), failed]);
      await Promise.race([this.allReady(this.options.readyTimeoutMs ?? READY_TIMEOUT_MS), failed]);
      const sidecars = all.map((p) => p.id);
      const status = await this.plane.awaitAcked(sidecars, this.plane.version, 10_000);
      this.startupFailure = undefined;
      this.emit('progress', `ready: ${this.plans.length} instances and the gateway in ${((performance.now() - began) / 1000).toFixed(1)}s; config v${status.version} on ${status.acked}/${status.total} sidecars`);
    } catch (error) {
      this.startupFailure = undefined;
      await this.shutdown();
      throw error;
    }
  }

  private located(plan: InstancePlan, started: StartedInstance): void {
    const status = this.instances.get(plan.id)!;
    status.started = started;
    this.pods?.set(plan.id, plan.service, plan.version, started);
    this.identities.set(plan.id, { ...this.identities.get(plan.id)!, host: started.endpoint.host, port: started.endpoint.port });
    this.plane.relocate(plan.id, started.endpoint.host, started.endpoint.port);
    this.plane.register(this.identities.get(plan.id)!);
  }

  private allReady(timeoutMs: number): Promise<void> {
    return this.whenReady(() => [...this.instances.values()].filter((s) => s.state !== 'ready').map((s) => s.plan.id), timeoutMs);
  }

  /** Resolves once `waiting()` is empty; rejects naming the late ones after `timeoutMs`. */
  private whenReady(waiting: () => string[], timeoutMs: number): Promise<void> {
    if (waiting().length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('instance', check);
        const late = waiting();
        reject(new InstanceStartError(late[0]!, `${late.join(', ')} did not become ready within ${timeoutMs / 1000}s`));
      }, timeoutMs);
      const check = () => {
        if (waiting().length > 0) return;
        clearTimeout(timer);
        this.off('instance', check);
        resolve();
      };
      this.on('instance', check);
    });
  }

  private setState(plan: InstancePlan, state: InstanceState, started: StartedInstance | undefined): InstanceStatus {
    const previous = this.instances.get(plan.id);
    const status: InstanceStatus = {
      plan,
      state,
      started: started ?? previous?.started,
      generation: (previous?.generation ?? 0) + (state === 'starting' ? 1 : 0),
      since: Date.now(),
    };
    this.instances.set(plan.id, status);
    this.emit('instance', status);
    return status;
  }

  private onAck(instance: string, version: number): void {
    const status = this.instances.get(instance);
    if (!status || status.state !== 'starting' || version < 1) return;
    this.setState(status.plan, 'ready', undefined);
    if (status.plan.kind !== 'gateway') this.plane.setReady(instance, true);
    this.emit('progress', `ready ${instance}`);
  }

  private onExit(id: string, info: ExitInfo): void {
    const status = this.instances.get(id);
    if (!status || this.stopped) return;
    this.pods?.set(id, status.plan.service, status.plan.version, undefined);
    const generation = status.generation;
    if (!info.expected) {
      const how = info.signal ? `was killed (${info.signal})` : `exited with code ${info.code}`;
      const message = `${id} ${how}${info.lastWords.length > 0 ? `:\n    ${info.lastWords.join('\n    ')}` : ''}`;
      if (this.startupFailure) {
        this.startupFailure(new InstanceStartError(id, message, info.lastWords));
        return;
      }
      this.emit('warning', `${message}\n  (mesh-sim restarts nothing by itself: its callers now see failures)`);
    }
    this.setState(status.plan, info.expected && status.state === 'killed' ? 'killed' : 'exited', undefined);
    // Callers keep the dead endpoint until the endpoint list catches up, as in Kubernetes.
    setTimeout(() => {
      const now = this.instances.get(id);
      if (now && now.generation === generation && now.state !== 'ready') this.plane.setReady(id, false);
    }, ENDPOINT_GRACE_MS).unref();
  }

  private onSpans(spans: Span[]): void {
    const now = (this.options.clock ?? Date.now)();
    this.options.tap?.received(spans, now);
    for (const span of spans) {
      this.traces.add(span, now);
      this.attribution.add(span);
    }
    if (this.listenerCount('spans') > 0) this.emit('spans', spans);
    // Connection records are counts, not traces: no collector elsewhere gets them.
    const traced = spans.some(isConnectionRecord) ? spans.filter((s) => !isConnectionRecord(s)) : spans;
    this.options.forward?.add(traced);
    this.jaegerForward?.forwarder.add(traced);
  }

  private onLog(line: LogLine): void {
    this.options.tap?.logged(line);
    if (this.listenerCount('log') === 0) return;
    this.emit('log', logRecordOf(line), line);
  }

  /** Starts Prometheus (and Grafana, and Jaeger when asked, where the runtime can) beside the mesh; never fatal. */
  async startObservability(scrapeIntervalSeconds = 5, jaeger = false): Promise<Observability> {
    this.observability = await this.runtime.startObservability((m) => this.emit('progress', m), { scrapeIntervalSeconds, jaeger });
    for (const note of this.observability.notes) this.emit('progress', note);
    // From now on every span the collector takes also goes to Jaeger, as to any OTLP collector.
    if (this.observability.jaeger && !this.stopped) {
      this.jaegerForward = forwardingFrom(this.observability.jaeger.otlp, {});
    }
    return this.observability;
  }

  /** Starts the traffic and the timeline; with `durationMs`, traffic ends at that scenario time. */
  beginTraffic(durationMs?: number): void {
    const gateway = this.instances.get(this.gateway.id)?.started?.ingress;
    if (!gateway) throw new Error('the ingress gateway has no address');
    this.noteServices(this.scenario);
    this.traffic = new TrafficGenerator(gateway, this.seed, this.ports, undefined, {
      answered: (r) => {
        this.attribution.answered(r.flow.id, r.n);
        const now = Date.now();
        const segment = this.countedSegment(r.flow.id, r.n);
        this.flowStats.add(r.flow.id, now, segment, r.status, r.latencyMs, r.degraded);
        this.options.tap?.answered(r.flow.id, now, segment, r.status, r.latencyMs, r.degraded);
      },
    }, this.tcpServices);
    this.trafficStartedAt = Date.now();
    this.options.tap?.traffic(this.trafficStartedAt, undefined);
    this.timeline = new TimelineRunner(this.loaded.scenario.timeline, (event) => this.runEvent(event));
    this.timeline.start();
    this.traffic.start(this.scenario.traffic, durationMs);
    this.selfLoad.start();
  }

  private countedSegment(flow: string, n: number): number {
    const segment = this.windows.segmentOf(flow, n);
    return this.windows.isCounted(segment) ? segment : -1;
  }

  /** Each flow's first request at or after scenario time `atMs` (now, for a time already past, or none given). */
  private limitsAt(atMs?: number): Map<string, number> {
    const clock = atMs === undefined || !this.timeline ? performance.now() : this.timeline.clockAt(atMs);
    return this.traffic?.boundary(clock) ?? new Map();
  }

  private async runEvent(event: TimelineEvent): Promise<void> {
    this.emit('event', event);
    const pushes = event.set !== undefined || event.apply !== undefined || event.delete !== undefined;
    const limits = this.limitsAt(event.atMs);
    if (event.check) {
      const window = this.windows.checkpoint(limits, event.atMs);
      const pending = this.judgeWindow(event, window);
      this.pendingChecks.add(pending);
      void pending.finally(() => this.pendingChecks.delete(pending));
    } else if (pushes) {
      // Requests that start while the change spreads belong to no window.
      this.windows.pause(limits);
    } else {
      this.windows.open(limits, event.atMs);
    }
    if (event.say) this.emit('say', event.say, event);
    if (pushes) {
      const next = this.loaded.states.get(event.index);
      // Every request of the window before runs under the config it is judged by: sent
      // and answered before the change goes out (a request just under the boundary
      // still makes its calls for a few milliseconds), within a bound.
      await this.traffic?.finishedBelow(limits, DRAIN_BEFORE_PUSH_MS);
      if (next) await this.push(next);
      // The change is in effect: a new window opens now, and the traffic takes its new
      // shape (an open loop's schedule still drawn from the event's time, so it repeats).
      const now = performance.now();
      if (next) this.traffic?.setFlows(next.traffic, this.timeline?.clockAt(event.atMs));
      this.windows.open(this.traffic?.boundary(now) ?? new Map(), this.timeline?.elapsed() ?? event.atMs);
    }
    for (const plan of event.kill ? matchInstances(this.plans, event.kill) : []) {
      this.setState(plan, 'killed', undefined);
      await this.runtime.kill(plan.id);
      this.emit('progress', `killed ${plan.id} (SIGKILL)`);
    }
    for (const plan of event.restart ? matchInstances(this.plans, event.restart) : []) {
      this.setState(plan, 'starting', undefined);
      try {
        const started = await this.runtime.restart(plan.id);
        this.located(plan, started);
        this.emit('progress', `restarting ${plan.id}`);
      } catch (error) {
        this.emit('warning', `cannot restart ${plan.id}: ${(error as Error).message}`);
      }
    }
  }

  /** A new desired state, pushed to every ready sidecar; resolves once they have it (or after 5 s). */
  private async push(next: Scenario): Promise<void> {
    this.scenario = next;
    this.options.tap?.scenario(next, this.timelineEvents);
    this.noteServices(next);
    this.plane.setScenario(next);
    const pushedAt = performance.now();
    const status = await this.plane.awaitAcked(this.readySidecars(), this.plane.version, 5000);
    this.emit('pushed', this.plane.configVersion, status.acked, status.total, performance.now() - pushedAt);
  }

  /**
   * The scenario file saved again (`up --watch`), applied as `kubectl apply` would: the
   * state the new file describes at this point of its timeline is pushed, pods it adds
   * start and pods it drops stop (just those), the traffic takes its new shape, and the
   * rest of the new timeline runs from here. Edits are applied one at a time.
   */
  reapply(next: LoadedScenario): Promise<ScenarioChanges> {
    const run = this.applying.then(() => this.applyNow(next));
    this.applying = run.then(() => {}, () => {});
    return run;
  }

  private async applyNow(next: LoadedScenario): Promise<ScenarioChanges> {
    const elapsed = this.timeline?.elapsed() ?? 0;
    const target = stateAt(next, elapsed);
    const changes = scenarioChanges(this.scenario, target);
    // Only what the mesh runs on needs a push; a new timeline or new checks need none.
    const push = !changes.empty;
    if (!sameTimeline(this.loaded.scenario.timeline, next.scenario.timeline)) changes.lines.push('timeline changed');
    if (!sameChecks(this.loaded.scenario.checks, next.scenario.checks)) changes.lines.push('checks changed');
    changes.empty = changes.lines.length === 0 && !push;
    this.loaded = next;
    this.timeline?.replace(next.scenario.timeline);
    if (changes.empty || this.stopped) return changes;
    this.emit('applied', changes.lines);
    if (!push) {
      this.options.tap?.scenario(this.scenario, this.timelineEvents);
      return changes;
    }
    // Requests that start while the change spreads belong to no window.
    const before = this.limitsAt();
    this.windows.pause(before);
    await this.traffic?.finishedBelow(before, DRAIN_BEFORE_PUSH_MS);
    for (const plan of [...changes.stop, ...changes.replace]) await this.removeInstance(plan);
    for (const plan of [...changes.start, ...changes.replace]) this.addInstance(plan);
    await this.push(target);
    const added = [...changes.start, ...changes.replace];
    await Promise.all(added.map((plan) => this.startInstance(plan)));
    const starting = () => added.filter((p) => this.instances.get(p.id)?.state === 'starting').map((p) => p.id);
    await this.whenReady(starting, this.options.readyTimeoutMs ?? READY_TIMEOUT_MS)
      .catch((error: Error) => this.emit('warning', error.message));
    const now = performance.now();
    this.traffic?.setFlows(target.traffic, now);
    this.windows.open(this.traffic?.boundary(now) ?? new Map(), this.timeline?.elapsed() ?? elapsed);
    return changes;
  }

  /** Ports and protocols as the traffic addresses services. */
  private noteServices(scenario: Scenario): void {
    Object.assign(this.ports, servicePorts(scenario));
    this.tcpServices.clear();
    for (const service of scenario.services) if (service.protocol === 'tcp') this.tcpServices.add(service.name);
  }

  private addInstance(plan: InstancePlan): void {
    this.plans.push(plan);
    this.instances.set(plan.id, { plan, state: 'starting', started: undefined, generation: (this.instances.get(plan.id)?.generation ?? 0) + 1, since: Date.now() });
    this.identities.set(plan.id, { instance: plan.id, service: plan.service, version: plan.version, serviceAccount: plan.serviceAccount, host: '', port: 0 });
    this.plane.register(this.identities.get(plan.id)!);
    this.emit('instance', this.instances.get(plan.id)!);
  }

  /** A pod added by a live edit; a failure to start is a warning, not the end of the mesh. */
  private async startInstance(plan: InstancePlan): Promise<void> {
    if (!this.environment) return;
    try {
      this.located(plan, await this.runtime.start(plan, this.environment));
      this.emit('progress', `starting ${plan.id}`);
    } catch (error) {
      this.setState(plan, 'exited', undefined);
      this.emit('warning', `cannot start ${plan.id}: ${(error as Error).message}`);
    }
  }

  /** A pod a live edit dropped: out of the endpoints first (as a terminating pod is), then stopped and forgotten. */
  private async removeInstance(plan: InstancePlan): Promise<void> {
    this.plane.unregister(plan.id);
    const status = this.instances.get(plan.id);
    if (status) status.generation++;
    this.instances.delete(plan.id);
    this.identities.delete(plan.id);
    const index = this.plans.findIndex((p) => p.id === plan.id);
    if (index >= 0) this.plans.splice(index, 1);
    await this.runtime.remove(plan.id);
    this.emit('progress', `stopped ${plan.id}`);
  }

  /**
   * A timeline check: once every request of its window has been answered (or CHECK_WAIT_MS
   * has passed) and every sidecar has sent its telemetry, judged on exactly that window.
   */
  private async judgeWindow(event: TimelineEvent, window: CheckWindow): Promise<void> {
    const deadline = Date.now() + CHECK_WAIT_MS;
    while (!this.stopped && this.traffic && !this.traffic.settledBelow(window.until) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    if (!this.stopped) await this.flushTelemetry();
    const seconds = Math.max(0, window.toMs - window.fromMs) / 1000;
    const judgedOn = { segments: window.segments, seconds };
    const result = { ...judge(event.check!.expr, this, judgedOn, seconds), at: formatDuration(event.atMs), ...this.fellBehind(window.fromMs, window.toMs) };
    this.options.tap?.judged(result, judgedOn, seconds);
    this.checkResults.push(result);
    this.emit('check', result);
  }

  /** A check's mark when mesh-sim fell behind during the time it judges. */
  private fellBehind(fromMs: number, toMs: number): { overloaded?: true } {
    return this.selfLoad.overlapped(fromMs, toMs) ? { overloaded: true } : {};
  }

  /** Every ready sidecar sends its spans before acknowledging: the collector then holds all finished so far. */
  async flushTelemetry(): Promise<void> {
    const version = this.plane.flush();
    await this.plane.awaitAcked(this.readySidecars(), version, FLUSH_WAIT_MS);
  }

  private readySidecars(): string[] {
    return [...this.instances.values()].filter((s) => s.state === 'ready').map((s) => s.plan.id);
  }

  /** Stops new traffic and waits up to `drainMs` for answers to what is in flight. Idempotent. */
  async stopTraffic(drainMs = 5000): Promise<void> {
    this.timeline?.stop();
    if (!this.traffic || this.trafficEndedAt !== undefined) return;
    this.traffic.stop();
    this.selfLoad.stop();
    this.trafficEndedAt = Date.now();
    this.options.tap?.traffic(undefined, this.trafficEndedAt);
    await this.traffic.drain(drainMs);
  }

  /** Ends the run: traffic drained, instances stopped (flushing their spans), checks judged. */
  async finish(drainMs = 5000): Promise<void> {
    await this.stopTraffic(drainMs);
    await Promise.all([...this.pendingChecks]);
    await this.shutdown();
    this.settle(true);
    // What still waits belongs to requests never answered: unanswered, not errors.
    this.unansweredSpans = this.attribution.finish();
    const runSeconds = this.runSeconds();
    for (const check of this.loaded.scenario.checks) {
      const result = { ...judge(check.expr, this, undefined, runSeconds), ...this.fellBehind(0, Infinity) };
      this.options.tap?.judged(result, undefined, runSeconds);
      this.checkResults.push(result);
      this.emit('check', result);
    }
  }

  private settle(final: boolean): void {
    const now = Date.now();
    this.traces.tick(now, final);
    this.options.tap?.settled(now, final);
  }

  get runtimeName(): string {
    return this.runtime.name;
  }

  /** How long mesh-sim fell behind its own traffic, for the summary. */
  get overload(): OverloadTotals {
    return this.selfLoad.totals;
  }

  /** What the traffic generator counted (undefined before traffic began). */
  get trafficCounts(): TrafficCounts | undefined {
    return this.traffic?.counts;
  }

  runSeconds(): number {
    if (this.trafficStartedAt === undefined) return 0;
    return ((this.trafficEndedAt ?? Date.now()) - this.trafficStartedAt) / 1000;
  }

  /** Stops every instance (they flush telemetry on the way out) and the hub. Safe to call twice. */
  async shutdown(graceMs?: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timeline?.stop();
    this.traffic?.stop();
    this.selfLoad.stop();
    await this.pods?.close();
    await this.runtime.stop(graceMs);
    // Everything is stopped: the reaper has nothing to do.
    await this.reaper?.dismiss();
    clearInterval(this.settleTimer);
    await this.hub.close();
    this.plane.removeAllListeners();
    // After the hub: the sidecars' last spans are in; what is queued goes out, within a bound.
    await Promise.all([this.options.forward?.shutdown(), this.jaegerForward?.forwarder.shutdown()]);
  }
}

/** The state a scenario describes at scenario time `elapsedMs`: after the last timeline change due by then. */
export function stateAt(loaded: LoadedScenario, elapsedMs: number): Scenario {
  let state = loaded.scenario;
  for (const event of loaded.scenario.timeline) {
    if (event.atMs > elapsedMs) break;
    state = loaded.states.get(event.index) ?? state;
  }
  return state;
}

const withoutPlace = (_key: string, value: unknown) => (typeof value === 'object' && value !== null && 'where' in value ? { ...value, where: undefined } : value);

function sameTimeline(a: readonly TimelineEvent[], b: readonly TimelineEvent[]): boolean {
  return JSON.stringify(a.map(eventShape), withoutPlace) === JSON.stringify(b.map(eventShape), withoutPlace);
}

function eventShape(event: TimelineEvent): unknown {
  return { ...event, apply: event.apply?.map((r) => r.raw) };
}

function sameChecks(a: Scenario['checks'], b: Scenario['checks']): boolean {
  return JSON.stringify(a.map((c) => c.expr.text)) === JSON.stringify(b.map((c) => c.expr.text));
}
