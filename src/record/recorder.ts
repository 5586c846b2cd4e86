// `--record FILE`: everything a run's panes and summary are made of, appended to the
// file once a second (src/record/format.ts). It is the session's tap, so it sees each
// count and answer in the order the statistics took them, and it listens to the
// session for the rest. Nothing secret is written: the run's secret and the
// certificates never reach spans, log lines or the scenario.

import { open, type FileHandle } from 'node:fs/promises';
import type { MeshSession, SessionTap } from '../mesh/session.js';
import type { Scenario, TimelineEvent } from '../scenario/model.js';
import type { Span } from '../telemetry/span.js';
import type { CheckResult } from '../telemetry/judge.js';
import type { Window } from '../telemetry/stats.js';
import type { LogLine } from '../runtime/runtime.js';
import { VERSION } from '../version.js';
import { MAGIC, encodeFrame, type Entry } from './format.js';

const FRAME_MS = 1000;

export class RecordingFileError extends Error {}

export class Recorder implements SessionTap {
  private pending: Entry[] = [];
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private session: MeshSession | undefined;
  /** Bytes written so far, and a write that failed (the run goes on; the recording says it is short). */
  bytes = 0;
  failure: string | undefined;

  private constructor(readonly file: string, private readonly handle: FileHandle) {}

  /** Creates the file; an existing file is never overwritten. */
  static async create(file: string): Promise<Recorder> {
    let handle: FileHandle;
    try {
      handle = await open(file, 'wx');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'EEXIST' ? 'already exists (a recording is never overwritten: remove it or choose another name)'
        : code === 'ENOENT' ? 'cannot be created: its directory does not exist'
          : code === 'EACCES' || code === 'EPERM' ? 'cannot be created: permission denied'
            : `cannot be created: ${(error as Error).message}`;
      throw new RecordingFileError(`--record ${file} ${why}`);
    }
    const recorder = new Recorder(file, handle);
    await recorder.write(Buffer.from(MAGIC));
    return recorder;
  }

  /** Listens to the session from now on; call before it starts. */
  attach(session: MeshSession, runtime: string): void {
    this.session = session;
    const t = Date.now();
    this.add({ k: 'begin', t, seed: session.seed, runtime, version: VERSION, retentionSeconds: session.retentionSeconds, configVersion: session.plane.configVersion });
    this.scenario(session.scenario, session.timelineEvents);
    for (const status of session.instances.values()) this.add({ k: 'instance', t, plan: status.plan, state: status.state, endpoint: undefined });
    session.on('instance', (status) => {
      const e = status.started?.endpoint;
      this.add({ k: 'instance', t: Date.now(), plan: status.plan, state: status.state, endpoint: e ? `${e.host}:${e.port}` : undefined });
    });
    session.on('event', (event) => this.add({ k: 'event', t: Date.now(), index: event.index }));
    session.on('say', (text, event) => this.add({ k: 'say', t: Date.now(), index: event.index, text }));
    session.on('pushed', (version, acked, total, ms) => this.add({ k: 'pushed', t: Date.now(), version, acked, total, ms }));
    session.on('warning', (message) => this.add({ k: 'warning', t: Date.now(), message }));
    // A replay shows mesh-sim's falling behind as the warning it was.
    session.on('overload', (state, message) => {
      if (state === 'overloaded') this.add({ k: 'warning', t: Date.now(), message });
    });
    session.on('applied', (lines) => this.add({ k: 'applied', t: Date.now(), lines: [...lines] }));
    this.timer = setInterval(() => this.flush(), FRAME_MS);
    this.timer.unref();
  }

  private add(entry: Entry): void {
    this.pending.push(entry);
  }

  // ---- the session's tap ----

  received(spans: readonly Span[], nowMs: number): void {
    this.add({ k: 'spans', t: nowMs, spans: [...spans] });
  }

  counted(span: Span, nowMs: number, segment: number): void {
    this.add({ k: 'count', t: nowMs, span: span.spanId, segment });
  }

  answered(flow: string, nowMs: number, segment: number, status: number, latencyMs: number, degraded: boolean): void {
    this.add({ k: 'answer', t: nowMs, flow, segment, status, ms: latencyMs, degraded });
  }

  settled(nowMs: number, final: boolean): void {
    const timeline = this.session?.timeline;
    this.add({ k: 'settle', t: nowMs, final, elapsed: timeline?.elapsed() ?? 0, position: timeline?.position ?? 0 });
  }

  scenario(state: Scenario, timeline: readonly TimelineEvent[]): void {
    this.add({ k: 'scenario', t: Date.now(), scenario: state, timeline });
  }

  judged(result: CheckResult, window: Window | undefined, runSeconds: number): void {
    this.add({ k: 'check', t: Date.now(), result, window, runSeconds });
  }

  traffic(startedAt: number | undefined, endedAt: number | undefined): void {
    this.add({ k: 'traffic', t: Date.now(), startedAt, endedAt });
  }

  logged(line: LogLine): void {
    this.add({ k: 'log', t: Date.now(), line });
  }

  // ---- the file ----

  /** Appends what came since the last frame, as one frame. */
  private flush(): Promise<void> {
    if (this.pending.length === 0) return this.writing;
    const frame = encodeFrame(this.pending);
    this.pending = [];
    return this.write(frame);
  }

  private write(bytes: Buffer): Promise<void> {
    this.writing = this.writing.then(async () => {
      if (this.failure) return;
      try {
        await this.handle.write(bytes);
        this.bytes += bytes.length;
      } catch (error) {
        this.failure = (error as Error).message;
      }
    });
    return this.writing;
  }

  /** The run is over: its totals, the last frame, and the file closed. */
  async close(interrupted = false): Promise<void> {
    clearInterval(this.timer);
    const session = this.session;
    if (session) {
      this.add({
        k: 'end', t: Date.now(), runSeconds: session.runSeconds(), unansweredSpans: session.unansweredSpans, interrupted,
        traffic: session.traffic?.counts ?? { sent: 0, answered: 0, unanswered: 0, failed: 0, skipped: 0, statuses: {} },
      });
    }
    await this.flush();
    await this.handle.close().catch(() => {});
  }
}

/** One line for the end of a run: where the recording is, its size, and whether it is whole. */
export function recordingReport(recorder: Recorder): string {
  const size = recorder.bytes >= 1024 * 1024 ? `${(recorder.bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(recorder.bytes / 1024)} KiB`;
  return recorder.failure
    ? `recording ${recorder.file} stopped early (${recorder.failure}); what was written before replays`
    : `recorded to ${recorder.file} (${size}); replay it with: mesh-sim replay ${recorder.file}`;
}
