import test, { type ExecutionContext } from 'ava';
import React from 'react';
import { render } from 'ink-testing-library';
import { App, initialView, reduce } from '../../src/tui/app.js';
import { recordedSnapshot, recordedSource } from '../helpers/ui-fixtures.js';

const settle = () => new Promise((resolve) => setTimeout(resolve, 40));

/** Waits until `done` holds, or 2 s pass: a slow machine is no reason to fail. */
async function waitFor(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!done() && Date.now() < deadline) await settle();
}

/** Waits until the frame matches (or 2 s pass), so a slow machine is no reason to fail. */
async function until(frame: () => string, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 2000;
  while (!pattern.test(frame()) && Date.now() < deadline) await settle();
  return frame();
}
const TAB = '\t';
const ENTER = '\r';
const ESC = '\u001b';

function mount(t: ExecutionContext, size = { columns: 100, rows: 30 }) {
  const calls = { quit: 0, next: 0 };
  const ui = render(<App source={recordedSource()} onQuit={() => calls.quit++} onNextEvent={() => calls.next++} size={size} fps={50} />);
  t.teardown(() => ui.unmount());
  return { ui, calls, frame: () => ui.lastFrame() ?? '' };
}

test.serial('Tab and number keys switch panes; the header shows where you are', async (t) => {
  const { ui, frame } = mount(t);
  t.regex(await until(frame, /SERVICE +VERSIONS/), /SERVICE +VERSIONS/);
  ui.stdin.write(TAB);
  t.regex(await until(frame, /^istio-ingressgateway$/m), /^istio-ingressgateway$/m, 'Tab: Graph');
  ui.stdin.write('4');
  t.regex(await until(frame, /TIME +TRACE/), /TIME +TRACE/, '4: Traces');
  ui.stdin.write('\u001b[Z');
  t.regex(await until(frame, /of 5 lines/), /of 5 lines/, 'Shift-Tab: back to Logs');
});

test.serial('keys that arrive in one burst each count, Tab Tab Tab reaching Traces', async (t) => {
  const { ui, frame } = mount(t);
  await until(frame, /SERVICE/);
  ui.stdin.write(`${TAB}${TAB}${TAB}`);
  t.regex(await until(frame, /TIME +TRACE/), /TIME +TRACE/);
});

test.serial('Enter on a trace opens its waterfall, Esc goes back', async (t) => {
  const { ui, frame } = mount(t);
  await until(frame, /SERVICE/);
  ui.stdin.write('4');
  await settle();
  ui.stdin.write(ENTER);
  t.regex(await until(frame, /^istio-ingressgateway → productpage v1 +█+/m), /^istio-ingressgateway → productpage v1 +█+/m, 'the waterfall, productpage at the root');
  ui.stdin.write(ESC);
  t.regex(await until(frame, /TIME +TRACE/), /TIME +TRACE/);
});

test.serial('/ types a filter; text and Enter arriving together still apply it', async (t) => {
  const { ui, frame } = mount(t);
  await until(frame, /SERVICE/);
  ui.stdin.write('3');
  await settle();
  ui.stdin.write('/');
  ui.stdin.write(`status:5xx${ENTER}`);
  t.regex(await until(frame, /2 of 5 lines match “status:5xx”/), /2 of 5 lines match “status:5xx”/);
  ui.stdin.write(ESC);
  t.regex(await until(frame, /5 of 5 lines/), /5 of 5 lines/, 'Esc clears it');
});

test.serial('? shows help, n asks for the next event, q quits', async (t) => {
  const { ui, calls, frame } = mount(t);
  await until(frame, /SERVICE/);
  ui.stdin.write('?');
  t.regex(await until(frame, /Keys/), /quit, stopping everything the run started/);
  ui.stdin.write('?');
  await waitFor(() => !/this help/.test(frame()));
  t.notRegex(frame(), /this help/);
  ui.stdin.write('n');
  ui.stdin.write('q');
  await waitFor(() => calls.quit === 1);
  t.is(calls.next, 1);
  t.is(calls.quit, 1);
  ui.stdin.write('\u0003');
  await waitFor(() => calls.quit === 2);
  t.is(calls.quit, 2, 'Ctrl-C quits too');
});

test.serial('p pauses the view; the header says so', async (t) => {
  const { ui, frame } = mount(t);
  await until(frame, /SERVICE/);
  ui.stdin.write('p');
  t.regex(await until(frame, /PAUSED/), /PAUSED/);
});

test.serial('the whole screen fits 80x24 and shows the narration', async (t) => {
  const { ui, frame } = mount(t, { columns: 80, rows: 24 });
  await until(frame, /SERVICE/);
  const lines = frame().split('\n');
  t.true(lines.length <= 24, `${lines.length} lines`);
  t.true(lines.every((l) => l.length <= 80));
  t.regex(frame(), /1:00 Fault injection/);
});

test.serial('the key reducer: sort cycles, moves stay in bounds, Enter on a service opens its logs', (t) => {
  let view = reduce(initialView, { type: 'sort' });
  t.is(view.sort, 'rps');
  view = reduce(view, { type: 'move', by: 10, limit: 4 });
  t.is(view.selected.Services, 3);
  view = reduce(view, { type: 'move', by: -10, limit: 4 });
  t.is(view.selected.Services, 0);
  view = reduce(view, { type: 'logsOf', service: 'reviews' });
  t.like(view, { pane: 'Logs', filters: { ...initialView.filters, Logs: 'svc:reviews' } });
});

test.serial('while mesh-sim falls behind, the screen says so above any warning', async (t) => {
  const snapshot = { ...recordedSnapshot(), warnings: ['an older warning'], overload: 'mesh-sim cannot keep up: node-0 was busy 99% of the last 2 s' };
  const ui = render(<App source={recordedSource(snapshot)} onQuit={() => {}} onNextEvent={() => {}} size={{ columns: 100, rows: 30 }} fps={50} />);
  t.teardown(() => ui.unmount());
  const frame = () => ui.lastFrame() ?? '';
  t.regex(await until(frame, /⚠ mesh-sim cannot keep up: node-0/), /⚠ mesh-sim cannot keep up: node-0/);
  t.notRegex(frame(), /an older warning/);
});
