// `up --watch`: the scenario file applied again each time it is saved, as `kubectl
// apply` would. The file's directory is watched (editors save by writing a new file and
// renaming it over the old), saves are debounced, a save that changes nothing is
// ignored, and a file that no longer validates is reported with its problems while the
// mesh stays exactly as it was.

import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { parseScenario } from '../scenario/load.js';
import { ScenarioError, formatProblem } from '../scenario/problems.js';
import type { MeshSession } from './session.js';
import type { ScenarioChanges } from './changes.js';

/** Editors write a file in bursts (truncate, write, rename): wait for the burst to end. */
const DEBOUNCE_MS = 150;

export interface LiveEditListener {
  /** The file was applied; `changes.empty` when it changed nothing the mesh runs on. */
  applied(changes: ScenarioChanges): void;
  /** The file no longer validates: each problem as `file:line:col: path: message`; the mesh is unchanged. */
  invalid(problems: string[]): void;
}

export class LiveEdit {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastText: string | undefined;
  private running: Promise<void> = Promise.resolve();
  private closed = false;
  readonly file: string;

  constructor(file: string, private readonly session: MeshSession, private readonly listener: LiveEditListener) {
    this.file = resolve(file);
  }

  /** Starts watching; the file as it is now is taken as applied already. */
  async start(): Promise<void> {
    this.lastText = await readFile(this.file, 'utf8').catch(() => undefined);
    const name = basename(this.file);
    this.watcher = watch(dirname(this.file), { persistent: false }, (_event, changed) => {
      if (changed === null || changed.toString() === name) this.soon();
    });
    this.watcher.on('error', () => {});
  }

  private soon(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.applyNow(), DEBOUNCE_MS);
  }

  /** Reads and applies the file now (a key in the UI does this too); one apply at a time. */
  applyNow(force = false): Promise<void> {
    const run = this.running.then(() => this.apply(force));
    this.running = run.catch(() => {});
    return run;
  }

  private async apply(force: boolean): Promise<void> {
    if (this.closed) return;
    const text = await readFile(this.file, 'utf8').catch(() => undefined);
    // Mid-save (the file briefly missing), or saved without a change.
    if (text === undefined || (!force && text === this.lastText)) return;
    let loaded;
    try {
      // The text just read, not a second read that could catch a later save half-written.
      loaded = parseScenario(text, this.file);
    } catch (error) {
      if (!(error instanceof ScenarioError)) throw error;
      this.lastText = text;
      this.listener.invalid(error.problems.filter((p) => p.severity === 'error').map(formatProblem));
      return;
    }
    this.lastText = text;
    const changes = await this.session.reapply(loaded);
    if (!this.closed) this.listener.applied(changes);
  }

  /** Stops watching; an apply under way finishes. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.watcher?.close();
    await this.running;
  }
}
