// The terminal UI's root: what pane is shown and everything the keys change (k9s and
// lazydocker habits), redrawn from a fresh snapshot a few times a second. The mesh's
// counting happens elsewhere, as spans arrive; a frame only reads.

import React, { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import { Box, Text, useInput, useStdout, type Key } from 'ink';
import { FileProblems, Footer, Header, Help, Narration, Startup } from './components/chrome.js';
import { fit } from './theme.js';
import type { AppSource, Pane, PaneContext } from './pane.js';
import { PANES } from './panes.js';
import { initialView, reduce, type Action, type ViewState } from './view.js';

export { initialView, reduce, type Action, type ViewState } from './view.js';

/** What the keys of a replay drive (src/record/player.ts). */
export interface Playback {
  togglePause(): void;
  seekBy(ms: number): void;
  toEvent(direction: 1 | -1): void;
  faster(): void;
  slower(): void;
}

/** A replay's own keys; true when `input` was one. */
function playbackKey(playback: Playback, input: string, key: Key): boolean {
  if (input === ' ' || input === 'p') playback.togglePause();
  else if (key.rightArrow || input === ']') playback.seekBy(10_000);
  else if (key.leftArrow || input === '[') playback.seekBy(-10_000);
  else if (input === 'n') playback.toEvent(1);
  else if (input === 'N') playback.toEvent(-1);
  else if (input === '+' || input === '>') playback.faster();
  else if (input === '-' || input === '<') playback.slower();
  else return false;
  return true;
}
export type { AppSource } from './pane.js';

const NO_KEY: Key = {
  upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false,
  return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false,
  super: false, hyper: false, capsLock: false, numLock: false,
};

export interface AppProps {
  source: AppSource;
  onQuit: () => void;
  onNextEvent: () => void;
  /** `a`: apply the scenario file again now, as a save does under --watch. */
  onApply?: () => void;
  /** A recording played back (`mesh-sim replay`): its keys. */
  playback?: Playback;
  /** Redraws per second: the cap that keeps a busy mesh from busying the terminal. */
  fps?: number;
  /** For tests: a fixed size instead of the terminal's. */
  size?: { columns: number; rows: number };
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

export function App({ source, onQuit, onNextEvent, onApply, playback, fps = 8, size: fixedSize }: AppProps) {
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
  const paneOf = (v: ViewState): Pane => PANES.find((p) => p.name === v.pane) ?? PANES[0]!;
  const contextOf = (v: ViewState, height: number): PaneContext => ({ snapshot, source, view: v, width, height });

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
    const pane = paneOf(view);
    const ctx = contextOf(view, page);
    const limit = pane.rows(ctx);
    if (key.tab) return dispatch({ type: 'cycle', by: key.shift ? -1 : 1 });
    if (/^[1-9]$/.test(input) && Number(input) <= PANES.length) return dispatch({ type: 'pane', pane: PANES[Number(input) - 1]!.name });
    if (key.upArrow || input === 'k') return dispatch({ type: 'move', by: -1, limit });
    if (key.downArrow || input === 'j') return dispatch({ type: 'move', by: 1, limit });
    if (key.pageUp) return dispatch({ type: 'move', by: -page, limit });
    if (key.pageDown) return dispatch({ type: 'move', by: page, limit });
    if (input === 'g') return dispatch({ type: 'edge', to: 'top', limit });
    if (input === 'G') return dispatch({ type: 'edge', to: 'bottom', limit });
    if (input === '/') return dispatch({ type: 'type', start: true });
    if (playback && playbackKey(playback, input, key)) return;
    if (input === 'p') return dispatch({ type: 'pause' });
    if (input === 'n') return onNextEvent();
    if (input === 'a' && onApply) return onApply();
    const own = pane.keys?.find((k) => k.key === input);
    if (own) {
      const action = own.act(ctx);
      if (action) dispatch(action);
      return;
    }
    if (key.return) {
      const action = pane.enter?.(ctx);
      if (action) dispatch(action);
    }
  }

  if (starting) return <Startup snapshot={snapshot} tick={tick} width={width} />;
  const narrationLines = view.pane === 'Timeline' ? 0 : rows >= 32 ? 2 : 1;
  // One line of alert: mesh-sim falling behind while it lasts, else the latest warning.
  const alert = snapshot.overload !== undefined ? { text: snapshot.overload, color: 'yellow' }
    : snapshot.warnings.length > 0 ? { text: snapshot.warnings[snapshot.warnings.length - 1]!, color: 'red' } : undefined;
  const chrome = 2 + (snapshot.replay ? 1 : 0) + (narrationLines > 0 && snapshot.timeline.narration ? narrationLines + 2 : 0) + 1 + (view.typing ? 1 : 0) + (alert ? 1 : 0)
    + (snapshot.problems.length > 0 ? snapshot.problems.length + 1 : 0);
  const height = Math.max(5, rows - chrome - 1);
  const pane = paneOf(view);
  const ctx = contextOf(view, height);
  const hints = pane.hints?.(ctx) ?? (playback
    ? `Tab/1-${PANES.length} panes  ↑↓ move  ⏎ open  space play/pause  ←→ ∓10s  n/N next/prev event  +/- speed  q quit`
    : `Tab/1-${PANES.length} panes  ↑↓ move  ⏎ open  / filter  p pause  n next event  ? help  q quit`);
  return (
    <Box flexDirection="column" width={width}>
      <Header snapshot={snapshot} panes={PANES.map((p) => p.name)} pane={view.pane} paused={view.paused} width={width} />
      <Narration snapshot={snapshot} width={width} lines={narrationLines} />
      {alert ? <Text color={alert.color}>{fit(`⚠ ${alert.text}`, width)}</Text> : null}
      <FileProblems snapshot={snapshot} width={width} />
      {view.help ? <Help panes={PANES} width={width} /> : (
        <Box height={height} flexDirection="column">
          {pane.render(ctx)}
        </Box>
      )}
      {view.typing ? <Text>{`/${view.draft}`}<Text inverse> </Text><Text dimColor>   Enter: apply  Esc: cancel</Text></Text> : null}
      <Footer hints={hints} width={width} />
    </Box>
  );
}
