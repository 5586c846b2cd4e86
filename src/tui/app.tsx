// The terminal UI's root: what pane is shown and everything the keys change (k9s and
// lazydocker habits), redrawn from a fresh snapshot a few times a second. The mesh's
// counting happens elsewhere, as spans arrive; a frame only reads.

import React, { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import { Box, Text, useInput, useStdout, type Key } from 'ink';
import type { UiSnapshot } from './store.js';
import type { Span } from '../telemetry/span.js';
import { SERVICE_SORTS, sortServices, selectTraces, waterfall, type ServiceSort, type TraceOrder } from './model.js';
import { Footer, Header, Help, Narration, PANES, Startup, type PaneName } from './components/chrome.js';
import { ServicesPane } from './components/services.js';
import { GraphPane, graphLines } from './components/graph.js';
import { LogsPane, filterLogs } from './components/logs.js';
import { TraceList, Waterfall } from './components/traces.js';
import { TimelinePane } from './components/timeline.js';
import { fit } from './theme.js';

const NO_KEY: Key = {
  upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false,
  return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false,
  super: false, hyper: false, capsLock: false, numLock: false,
};

export interface AppSource {
  snapshot(): UiSnapshot;
  spansOf(traceId: string): Span[] | undefined;
  declaredEdges(): ReadonlyArray<[string, string]>;
}

export interface AppProps {
  source: AppSource;
  onQuit: () => void;
  onNextEvent: () => void;
  /** Redraws per second: the cap that keeps a busy mesh from busying the terminal. */
  fps?: number;
  /** For tests: a fixed size instead of the terminal's. */
  size?: { columns: number; rows: number };
}

export interface ViewState {
  pane: PaneName;
  help: boolean;
  paused: boolean;
  typing: boolean;
  draft: string;
  filters: Record<PaneName, string>;
  selected: Record<PaneName, number>;
  sort: ServiceSort;
  logScroll: number;
  failedOnly: boolean;
  order: TraceOrder;
  openTrace: string | undefined;
  spanSelected: number;
}

export const initialView: ViewState = {
  pane: 'Services',
  help: false,
  paused: false,
  typing: false,
  draft: '',
  filters: { Services: '', Graph: '', Logs: '', Traces: '', Timeline: '' },
  selected: { Services: 0, Graph: 0, Logs: 0, Traces: 0, Timeline: 0 },
  sort: 'name',
  logScroll: 0,
  failedOnly: false,
  order: 'recent',
  openTrace: undefined,
  spanSelected: 0,
};

export type Action =
  | { type: 'pane'; pane: PaneName }
  | { type: 'cycle'; by: 1 | -1 }
  | { type: 'move'; by: number; limit: number }
  | { type: 'edge'; to: 'top' | 'bottom'; limit: number }
  | { type: 'help' }
  | { type: 'pause' }
  | { type: 'type'; start?: boolean; text?: string; backspace?: boolean; submit?: boolean; cancel?: boolean }
  | { type: 'escape' }
  | { type: 'sort' }
  | { type: 'failedOnly' }
  | { type: 'order' }
  | { type: 'openTrace'; traceId: string }
  | { type: 'logsOf'; service: string };

/** What each key does to the view: a pure reducer, so the keys can be tested without a terminal. */
export function reduce(view: ViewState, action: Action): ViewState {
  switch (action.type) {
    case 'pane':
      return { ...view, pane: action.pane, help: false };
    case 'cycle': {
      const i = PANES.indexOf(view.pane);
      return { ...view, pane: PANES[(i + action.by + PANES.length) % PANES.length]!, help: false };
    }
    case 'move': {
      if (view.pane === 'Traces' && view.openTrace) {
        return { ...view, spanSelected: clamp(view.spanSelected + action.by, action.limit) };
      }
      if (view.pane === 'Logs') return { ...view, logScroll: Math.max(0, Math.min(action.limit, view.logScroll - action.by)) };
      return { ...view, selected: { ...view.selected, [view.pane]: clamp(view.selected[view.pane] + action.by, action.limit) } };
    }
    case 'edge': {
      if (view.pane === 'Logs') return { ...view, logScroll: action.to === 'top' ? action.limit : 0 };
      if (view.pane === 'Traces' && view.openTrace) return { ...view, spanSelected: action.to === 'top' ? 0 : Math.max(0, action.limit - 1) };
      return { ...view, selected: { ...view.selected, [view.pane]: action.to === 'top' ? 0 : Math.max(0, action.limit - 1) } };
    }
    case 'help':
      return { ...view, help: !view.help };
    case 'pause':
      return { ...view, paused: !view.paused };
    case 'type': {
      if (action.start) return { ...view, typing: true, draft: view.filters[view.pane] };
      if (action.cancel) return { ...view, typing: false, draft: '' };
      if (action.submit) return { ...view, typing: false, filters: { ...view.filters, [view.pane]: view.draft }, logScroll: 0, selected: { ...view.selected, [view.pane]: 0 } };
      if (action.backspace) return { ...view, draft: view.draft.slice(0, -1) };
      return { ...view, draft: view.draft + (action.text ?? '') };
    }
    case 'escape':
      if (view.help) return { ...view, help: false };
      if (view.pane === 'Traces' && view.openTrace) return { ...view, openTrace: undefined };
      return { ...view, filters: { ...view.filters, [view.pane]: '' }, logScroll: 0 };
    case 'sort':
      return { ...view, sort: SERVICE_SORTS[(SERVICE_SORTS.indexOf(view.sort) + 1) % SERVICE_SORTS.length]! };
    case 'failedOnly':
      return { ...view, failedOnly: !view.failedOnly, selected: { ...view.selected, Traces: 0 } };
    case 'order':
      return { ...view, order: view.order === 'recent' ? 'slowest' : 'recent', selected: { ...view.selected, Traces: 0 } };
    case 'openTrace':
      return { ...view, openTrace: action.traceId, spanSelected: 0 };
    case 'logsOf':
      return { ...view, pane: 'Logs', filters: { ...view.filters, Logs: `svc:${action.service}` }, logScroll: 0 };
  }
}

function clamp(value: number, limit: number): number {
  return Math.max(0, Math.min(Math.max(0, limit - 1), value));
}

function useTerminalSize(fixed: AppProps['size']): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = () => fixed ?? { columns: stdout.columns || 80, rows: stdout.rows || 24 };
  const [size, setSize] = useState(read);
  useEffect(() => {
    if (fixed) return;
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return size;
}

/**
 * The view state, changed synchronously: keys that arrive before React re-renders
 * (typing fast, a script) must each see what the key before them did.
 */
function useViewState(): [ViewState, (action: Action) => void, { current: ViewState }] {
  const ref = useRef(initialView);
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  const dispatch = useCallback((action: Action) => {
    ref.current = reduce(ref.current, action);
    redraw();
  }, []);
  return [ref.current, dispatch, ref];
}

export function App({ source, onQuit, onNextEvent, fps = 8, size: fixedSize }: AppProps) {
  const [view, dispatch, viewRef] = useViewState();
  const [snapshot, setSnapshot] = useState(() => source.snapshot());
  const [tick, setTick] = useState(0);
  const { columns, rows } = useTerminalSize(fixedSize);
  useEffect(() => {
    const timer = setInterval(() => {
      setTick((t) => t + 1);
      if (!view.paused) setSnapshot(source.snapshot());
    }, Math.round(1000 / fps));
    return () => clearInterval(timer);
  }, [view.paused, fps, source]);

  const width = Math.max(40, columns);
  const starting = snapshot.phase === 'starting' || snapshot.phase === 'failed';
  const tracesFor = (v: ViewState) => selectTraces(snapshot.traces, { failedOnly: v.failedOnly, order: v.order, text: v.filters.Traces });
  const waterfallFor = (v: ViewState) => {
    const spans = v.openTrace ? source.spansOf(v.openTrace) : undefined;
    return spans && spans.length > 0 ? waterfall(spans) : undefined;
  };
  const fall = waterfallFor(view);
  const limitOf = (v: ViewState): number => {
    switch (v.pane) {
      case 'Services': return snapshot.services.length;
      case 'Graph': return graphLines(snapshot.edges, source.declaredEdges(), snapshot.services.map((s) => s.name)).length;
      case 'Logs': return filterLogs(snapshot.logs, v.filters.Logs).length;
      case 'Traces': return waterfallFor(v)?.rows.length ?? tracesFor(v).length;
      case 'Timeline': return snapshot.timeline.items.length;
    }
  };

  useInput((input, key) => {
    if (key.ctrl && input === 'c') {
      onQuit();
      return;
    }
    // Keys that arrive together (a burst, a paste, text and Enter) come as one string:
    // take them one at a time, so each acts as if typed alone.
    if (input.length > 1 && !key.ctrl && !key.meta && /^[\t\r\x7f -~]+$/.test(input)) {
      for (const ch of input) handleKey(ch, { ...NO_KEY, tab: ch === '\t', return: ch === '\r', backspace: ch === '\x7f' });
      return;
    }
    handleKey(input, key);
  });

  function handleKey(input: string, key: Key): void {
    const view = viewRef.current;
    if (view.typing) {
      if (key.escape) dispatch({ type: 'type', cancel: true });
      else if (key.return) dispatch({ type: 'type', submit: true });
      else if (key.backspace || key.delete) dispatch({ type: 'type', backspace: true });
      else if (input && !key.ctrl && !key.meta) dispatch({ type: 'type', text: input });
      return;
    }
    if (input === 'q') {
      onQuit();
      return;
    }
    if (input === '?') return dispatch({ type: 'help' });
    if (key.escape) return dispatch({ type: 'escape' });
    if (view.help || starting) return;
    const page = Math.max(1, rows - 10);
    const limit = limitOf(view);
    if (key.tab) return dispatch({ type: 'cycle', by: key.shift ? -1 : 1 });
    if (/^[1-5]$/.test(input)) return dispatch({ type: 'pane', pane: PANES[Number(input) - 1]! });
    if (key.upArrow || input === 'k') return dispatch({ type: 'move', by: -1, limit });
    if (key.downArrow || input === 'j') return dispatch({ type: 'move', by: 1, limit });
    if (key.pageUp) return dispatch({ type: 'move', by: -page, limit });
    if (key.pageDown) return dispatch({ type: 'move', by: page, limit });
    if (input === 'g') return dispatch({ type: 'edge', to: 'top', limit });
    if (input === 'G') return dispatch({ type: 'edge', to: 'bottom', limit });
    if (input === '/') return dispatch({ type: 'type', start: true });
    if (input === 'p') return dispatch({ type: 'pause' });
    if (input === 'n') return onNextEvent();
    if (input === 's' && view.pane === 'Services') return dispatch({ type: 'sort' });
    if (input === 'f' && view.pane === 'Traces') return dispatch({ type: 'failedOnly' });
    if (input === 'o' && view.pane === 'Traces') return dispatch({ type: 'order' });
    if (key.return) {
      if (view.pane === 'Traces' && !view.openTrace) {
        const row = tracesFor(view)[view.selected.Traces];
        if (row) dispatch({ type: 'openTrace', traceId: row.traceId });
      } else if (view.pane === 'Services') {
        const row = sortServices(snapshot.services, view.sort)[view.selected.Services];
        if (row) dispatch({ type: 'logsOf', service: row.name });
      }
    }
  }

  if (starting) return <Startup snapshot={snapshot} tick={tick} width={width} />;
  const narrationLines = view.pane === 'Timeline' ? 0 : rows >= 32 ? 2 : 1;
  const chrome = 2 + (narrationLines > 0 && snapshot.timeline.narration ? narrationLines + 2 : 0) + 1 + (view.typing ? 1 : 0) + (snapshot.warnings.length > 0 ? 1 : 0);
  const height = Math.max(5, rows - chrome - 1);
  const hints = view.pane === 'Traces' && view.openTrace
    ? '↑↓ span  Esc back  Tab panes  p pause  n next event  ? help  q quit'
    : 'Tab/1-5 panes  ↑↓ move  ⏎ open  / filter  p pause  n next event  ? help  q quit';
  return (
    <Box flexDirection="column" width={width}>
      <Header snapshot={snapshot} pane={view.pane} paused={view.paused} width={width} />
      <Narration snapshot={snapshot} width={width} lines={narrationLines} />
      {snapshot.warnings.length > 0 ? <Text color="red">{fit(`⚠ ${snapshot.warnings[snapshot.warnings.length - 1]}`, width)}</Text> : null}
      {view.help ? <Help width={width} /> : (
        <Box height={height} flexDirection="column">
          {view.pane === 'Services' ? <ServicesPane rows={snapshot.services} sort={view.sort} selected={view.selected.Services} width={width} height={height} entry={snapshot.entry} links={{ prometheus: snapshot.prometheus, grafana: snapshot.grafana, notes: snapshot.observabilityNotes }} /> : null}
          {view.pane === 'Graph' ? <GraphPane edges={snapshot.edges} declared={source.declaredEdges()} services={snapshot.services} width={width} height={height} offset={view.selected.Graph} /> : null}
          {view.pane === 'Logs' ? <LogsPane rows={snapshot.logs} filter={view.filters.Logs} scroll={view.logScroll} width={width} height={height} /> : null}
          {view.pane === 'Traces' && fall ? <Waterfall rows={fall.rows} totalMs={fall.durationMs} traceId={view.openTrace!} selected={view.spanSelected} width={width} height={height} /> : null}
          {view.pane === 'Traces' && !fall ? <TraceList rows={snapshot.traces} selected={view.selected.Traces} failedOnly={view.failedOnly} order={view.order} filter={view.filters.Traces} width={width} height={height} /> : null}
          {view.pane === 'Timeline' ? <TimelinePane view={snapshot.timeline} width={width} height={height} /> : null}
        </Box>
      )}
      {view.typing ? <Text>{`/${view.draft}`}<Text inverse> </Text><Text dimColor>   Enter: apply  Esc: cancel</Text></Text> : null}
      <Footer hints={hints} width={width} />
    </Box>
  );
}
