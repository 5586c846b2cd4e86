// What a pane of the terminal UI is (k9s's views are the model): a name, how many rows
// its cursor moves over, how it draws, and its own keys. A new pane is one module that
// exports one of these, and one line in panes.ts.

import type React from 'react';
import type { Span } from '../telemetry/span.js';
import type { UiSnapshot } from './store.js';
import type { Action, ViewState } from './view.js';

/** Where the UI reads the mesh from: a live store, or a recording. */
export interface AppSource {
  snapshot(): UiSnapshot;
  spansOf(traceId: string): Span[] | undefined;
  declaredEdges(): ReadonlyArray<[string, string]>;
}

export interface PaneContext {
  snapshot: UiSnapshot;
  source: AppSource;
  view: ViewState;
  width: number;
  height: number;
}

/** A key that means something in one pane only. */
export interface PaneKey {
  key: string;
  help: string;
  act(ctx: PaneContext): Action | undefined;
}

export interface Pane {
  name: string;
  /** One line for the help screen: what the pane shows. */
  summary: string;
  /** Rows the cursor moves over (the limit of ↑↓, PgUp, PgDn, g, G). */
  rows(ctx: PaneContext): number;
  render(ctx: PaneContext): React.ReactElement;
  keys?: readonly PaneKey[];
  /** What Enter does here, if anything. */
  enter?(ctx: PaneContext): Action | undefined;
  /** The footer's hints while this pane is shown, when they differ from the usual. */
  hints?(ctx: PaneContext): string | undefined;
}
