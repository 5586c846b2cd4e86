// Playing a recording back for the UI: a clock over the recording that runs at a chosen
// speed, pauses, and seeks (by ±10 s, or to a timeline event). Going forward applies the
// entries in between; going back rebuilds the mesh and its UI store from the start,
// which takes milliseconds, as nothing waits on timers.

import { UiStore, type ReplayState } from '../tui/store.js';
import type { AppSource } from '../tui/pane.js';
import { ReplayedMesh, type Recording } from './replay.js';
import { SPEEDS } from './speeds.js';

export class Player {
  mesh!: ReplayedMesh;
  store!: UiStore;
  /** The recording's clock (wall-clock ms of the run). */
  now: number;
  private index = 0;
  private speedIndex = 1;
  paused = false;
  private lastReal: number;

  constructor(readonly recording: Recording, private readonly realClock: () => number = Date.now) {
    this.now = recording.fromMs;
    this.lastReal = realClock();
    this.rebuild();
  }

  get speed(): number {
    return SPEEDS[this.speedIndex]!;
  }

  private rebuild(): void {
    this.mesh = new ReplayedMesh(this.recording);
    this.store = new UiStore(this.mesh, `${this.mesh.runtimeName}, replayed`, () => this.now);
    this.store.setPhase('running');
    this.index = 0;
    this.now = this.recording.fromMs;
  }

  private applyUntil(t: number): void {
    const entries = this.recording.entries;
    while (this.index < entries.length && entries[this.index]!.t <= t) {
      const entry = entries[this.index++]!;
      this.mesh.setNow(entry.t);
      this.mesh.apply(entry);
    }
    this.now = t;
    this.mesh.setNow(t);
  }

  /** Moves the clock by the real time passed since the last call, times the speed. */
  advance(): void {
    const real = this.realClock();
    const passed = real - this.lastReal;
    this.lastReal = real;
    if (this.paused || this.ended) return;
    this.applyUntil(Math.min(this.recording.toMs, this.now + passed * this.speed));
    if (this.ended) this.paused = true;
  }

  get ended(): boolean {
    return this.now >= this.recording.toMs;
  }

  /** To `t` (the recording's clock), clamped to the recording. */
  seek(t: number): void {
    const target = Math.max(this.recording.fromMs, Math.min(this.recording.toMs, t));
    if (target < this.now) this.rebuild();
    this.applyUntil(target);
    this.lastReal = this.realClock();
  }

  seekBy(ms: number): void {
    this.seek(this.now + ms);
  }

  /**
   * To the next timeline event, or the previous one: just after it fired, its
   * narration included (said a moment after the event began, on a busy machine).
   */
  toEvent(direction: 1 | -1): void {
    const entries = this.recording.entries;
    const events = entries.flatMap((e, i) => (e.k === 'event' ? [{ t: e.t, i, index: e.index }] : []));
    const event = direction > 0 ? events.find((e) => e.t > this.now) : [...events].reverse().find((e) => e.t < this.now - 500);
    if (!event) return this.seek(direction > 0 ? this.recording.toMs : this.recording.fromMs);
    const said = entries.slice(event.i, event.i + 10_000).find((e) => e.k === 'say' && e.index === event.index && e.t - event.t < 2000);
    this.seek(said?.t ?? event.t);
  }

  togglePause(): void {
    if (this.ended) this.seek(this.recording.fromMs);
    this.paused = !this.paused;
    this.lastReal = this.realClock();
  }

  faster(): void {
    this.speedIndex = Math.min(SPEEDS.length - 1, this.speedIndex + 1);
  }

  slower(): void {
    this.speedIndex = Math.max(0, this.speedIndex - 1);
  }

  state(): ReplayState {
    return {
      atMs: this.now - this.recording.fromMs,
      durationMs: this.recording.toMs - this.recording.fromMs,
      speed: this.speed,
      paused: this.paused,
      ended: this.ended,
    };
  }

  /** What the UI reads: the store of the moment, with where the replay stands. */
  source(): AppSource {
    return {
      snapshot: () => {
        this.advance();
        return { ...this.store.snapshot(this.now), replay: this.state() };
      },
      spansOf: (traceId) => this.store.spansOf(traceId),
      declaredEdges: () => this.store.declaredEdges(),
    };
  }
}
