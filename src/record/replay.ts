// `mesh-sim replay FILE`: a recording played back with no mesh running. A ReplayedMesh
// is what the UI and the summary read a live session as (statistics, traces, instances,
// the scenario in force, checks), rebuilt by feeding the recorded entries to fresh
// statistics in the order the run took them: the same numbers, judged the same way. A
// Player moves a clock over the recording: play, pause, speed, and seek, backwards by
// rebuilding from the start (fast: nothing waits on timers).

import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { InstanceStatus, SessionEvents } from '../mesh/session.js';
import { sessionSummary, type Summary } from '../mesh/summary.js';
import type { TrafficCounts } from '../traffic/generator.js';
import type { Observability } from '../runtime/runtime.js';
import type { Scenario, TimelineEvent } from '../scenario/model.js';
import { parseCheck } from '../scenario/check-expr.js';
import { logRecordOf } from '../telemetry/access-log.js';
import { judge, type CheckResult } from '../telemetry/judge.js';
import type { Span } from '../telemetry/span.js';
import { FlowStats, RequestStats } from '../telemetry/stats.js';
import { TraceStore } from '../telemetry/traces.js';
import { decodeRecording, RecordingError, type Entry } from './format.js';

export interface Recording {
  file: string;
  entries: Entry[];
  torn: boolean;
  /** Times of the first and last entries (wall clock, ms). */
  fromMs: number;
  toMs: number;
}

export async function loadRecording(file: string): Promise<Recording> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new RecordingError(`${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a recording' : (error as Error).message}`);
  }
  const { entries, torn } = decodeRecording(file, bytes);
  const begin = entries[0];
  if (begin?.k !== 'begin' || entries[1]?.k !== 'scenario') throw new RecordingError(`${file} holds no run: it ends before the mesh started`);
  return { file, entries, torn, fromMs: begin.t, toMs: entries[entries.length - 1]!.t };
}

/** The mesh as the recording says it stood at the entries applied so far. */
export class ReplayedMesh extends EventEmitter<SessionEvents> {
  readonly seed: number;
  readonly runtimeName: string;
  readonly stats: RequestStats;
  readonly flowStats: FlowStats;
  readonly traces = new TraceStore();
  readonly instances = new Map<string, InstanceStatus>();
  readonly checkResults: CheckResult[] = [];
  readonly observability: Observability | undefined = undefined;
  readonly plane = { configVersion: 1 };
  scenario: Scenario;
  timelineEvents: readonly TimelineEvent[];
  trafficStartedAt: number | undefined;
  trafficEndedAt: number | undefined;
  /** The run's own totals, once its end is in the recording. */
  end: Extract<Entry, { k: 'end' }> | undefined;
  private readonly spans = new Map<string, Span>();
  private settledAt: Extract<Entry, { k: 'settle' }> | undefined;
  private now = 0;

  /** The timeline's clock and position, as the last settle recorded them and the clock since. */
  get timeline(): { elapsed(): number; position: number } {
    const at = this.settledAt;
    const now = this.now;
    return { elapsed: () => (at ? at.elapsed + Math.max(0, now - at.t) : 0), position: at?.position ?? 0 };
  }

  constructor(recording: Recording) {
    super();
    const begin = recording.entries[0] as Extract<Entry, { k: 'begin' }>;
    const first = recording.entries[1] as Extract<Entry, { k: 'scenario' }>;
    this.seed = begin.seed;
    this.runtimeName = begin.runtime;
    this.stats = new RequestStats(begin.retentionSeconds);
    this.flowStats = new FlowStats(begin.retentionSeconds);
    this.plane.configVersion = begin.configVersion;
    this.scenario = first.scenario;
    this.timelineEvents = first.timeline;
  }

  /** Moves the mesh's clock to `nowMs` (entries up to it applied already). */
  setNow(nowMs: number): void {
    this.now = nowMs;
  }

  apply(entry: Entry): void {
    switch (entry.k) {
      case 'begin': return;
      case 'scenario':
        this.scenario = entry.scenario;
        this.timelineEvents = entry.timeline;
        return;
      case 'instance': {
        const previous = this.instances.get(entry.plan.id);
        const [host, port] = entry.endpoint ? [entry.endpoint.slice(0, entry.endpoint.lastIndexOf(':')), Number(entry.endpoint.slice(entry.endpoint.lastIndexOf(':') + 1))] : [];
        const status: InstanceStatus = {
          plan: entry.plan,
          state: entry.state,
          started: host !== undefined ? { id: entry.plan.id, endpoint: { host, port: port! }, ingress: undefined, admin: undefined } : previous?.started,
          generation: (previous?.generation ?? 0) + (entry.state === 'starting' ? 1 : 0),
          since: entry.t,
        };
        this.instances.set(entry.plan.id, status);
        this.emit('instance', status);
        return;
      }
      case 'spans':
        for (const span of entry.spans) {
          this.traces.add(span, entry.t);
          this.spans.set(span.spanId, span);
        }
        this.emit('spans', entry.spans);
        return;
      case 'count': {
        const span = this.spans.get(entry.span);
        if (!span) return;
        this.spans.delete(entry.span);
        this.stats.add(span, entry.t, entry.segment);
        return;
      }
      case 'answer':
        this.flowStats.add(entry.flow, entry.t, entry.segment, entry.status, entry.ms, entry.degraded);
        return;
      case 'log': {
        this.emit('log', logRecordOf(entry.line), entry.line);
        return;
      }
      case 'event': {
        const event = this.timelineEvents.find((e) => e.index === entry.index);
        if (event) this.emit('event', event);
        return;
      }
      case 'say': {
        const event = this.timelineEvents.find((e) => e.index === entry.index);
        if (event) this.emit('say', entry.text, event);
        return;
      }
      case 'check': {
        // Judged again on the rebuilt statistics: the recording's numbers, not its verdicts.
        const result: CheckResult = { ...judge(parseCheck(entry.result.expr), this, entry.window, entry.runSeconds), ...(entry.result.at !== undefined ? { at: entry.result.at } : {}) };
        this.checkResults.push(result);
        this.emit('check', result);
        return;
      }
      case 'pushed':
        this.plane.configVersion = entry.version;
        this.emit('pushed', entry.version, entry.acked, entry.total, entry.ms);
        return;
      case 'warning':
        this.emit('warning', entry.message);
        return;
      case 'applied':
        this.emit('applied', entry.lines);
        return;
      case 'settle':
        this.traces.tick(entry.t, entry.final);
        this.settledAt = entry;
        return;
      case 'traffic':
        if (entry.startedAt !== undefined) this.trafficStartedAt = entry.startedAt;
        if (entry.endedAt !== undefined) this.trafficEndedAt = entry.endedAt;
        return;
      case 'end':
        this.end = entry;
        this.spans.clear();
        return;
    }
  }

  runSeconds(): number {
    if (this.end) return this.end.runSeconds;
    if (this.trafficStartedAt === undefined) return 0;
    return ((this.trafficEndedAt ?? this.now) - this.trafficStartedAt) / 1000;
  }

  get trafficCounts(): TrafficCounts | undefined {
    return this.end?.traffic;
  }

  /** The summary `run` printed, from the rebuilt numbers; a recording with no end is a run that died, as `run` reports an interrupted one. */
  summary(): Summary {
    return sessionSummary(this, this.end?.interrupted ?? true);
  }
}

/** Replays a whole recording at once (the summary, or a test). */
export function replayAll(recording: Recording): ReplayedMesh {
  const mesh = new ReplayedMesh(recording);
  for (const entry of recording.entries) {
    mesh.setNow(entry.t);
    mesh.apply(entry);
  }
  return mesh;
}

export { RecordingError };
