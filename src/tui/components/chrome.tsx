// The frame around the panes: the header with the mesh's vital signs and the tabs, the
// narration banner, the footer's key hints, the help screen, and the startup screen.

import React from 'react';
import { Box, Text } from 'ink';
import type { UiSnapshot } from '../store.js';
import { clock, formatPercent, formatRps, health } from '../model.js';
import { HEALTH_COLOR, fit } from '../theme.js';
import type { Pane } from '../pane.js';


export function Header({ snapshot, panes, pane, paused, width }: { snapshot: UiSnapshot; panes: readonly string[]; pane: string; paused: boolean; width: number }) {
  const ok = snapshot.totals.successRate;
  return (
    <Box flexDirection="column" width={width}>
      <Box>
        <Text bold>mesh-sim </Text>
        <Text>{fit(`${snapshot.scenario} · ${snapshot.runtime} · seed ${snapshot.seed} · ${clock(snapshot.timeline.elapsedMs)}`, Math.max(10, width - 40))}</Text>
        <Text>{'  '}</Text>
        <Text bold>{formatRps(snapshot.totals.rps)} rps</Text>
        <Text> </Text>
        <Text color={HEALTH_COLOR[health(ok)]}>{formatPercent(ok)} ok</Text>
        {paused ? <Text inverse> PAUSED </Text> : null}
      </Box>
      {snapshot.replay ? <ReplayBar replay={snapshot.replay} width={width} /> : null}
      <Box>
        {panes.map((name, i) => (
          <Text key={name} inverse={name === pane} bold={name === pane}>{` ${i + 1} ${name} `}</Text>
        ))}
      </Box>
    </Box>
  );
}

/** Where a replay stands: its clock, a progress bar, the speed, and whether it plays. */
function ReplayBar({ replay, width }: { replay: NonNullable<UiSnapshot['replay']>; width: number }) {
  const label = `REPLAY ${clock(replay.atMs)}/${clock(replay.durationMs)} ×${replay.speed} ${replay.ended ? '■ end' : replay.paused ? '⏸ paused' : '▶'}`;
  const barWidth = Math.max(0, width - label.length - 3);
  const filled = replay.durationMs > 0 ? Math.round((barWidth * replay.atMs) / replay.durationMs) : 0;
  return (
    <Box>
      <Text inverse bold>{` ${label} `}</Text>
      <Text color="cyan">{` ${'━'.repeat(filled)}`}</Text>
      <Text dimColor>{'─'.repeat(Math.max(0, barWidth - filled))}</Text>
    </Box>
  );
}

export function Narration({ snapshot, width, lines }: { snapshot: UiSnapshot; width: number; lines: number }) {
  const narration = snapshot.timeline.narration;
  if (!narration || lines <= 0) return null;
  const text = fit(narration.text, (width - 10) * lines);
  return (
    <Box borderStyle="round" borderColor="yellow" width={width} paddingX={1}>
      <Text color="yellow" bold wrap="wrap">{`${clock(narration.atMs)} ${text}`}</Text>
    </Box>
  );
}

/** A save of the scenario file that no longer validates: its problems, until a save that does. */
export function FileProblems({ snapshot, width }: { snapshot: UiSnapshot; width: number }) {
  if (snapshot.problems.length === 0) return null;
  return (
    <Box flexDirection="column" width={width}>
      <Text color="red" bold>{fit(`✗ ${snapshot.file} no longer validates; the mesh runs as before. Fix and save again:`, width)}</Text>
      {snapshot.problems.map((p, i) => <Text key={i} color="red">{fit(`  ${p}`, width)}</Text>)}
    </Box>
  );
}

export function Footer({ hints, width }: { hints: string; width: number }) {
  return <Text dimColor>{fit(hints, width)}</Text>;
}

export const KEYS: Array<[string, string]> = [
  ['Tab, Shift-Tab', 'next, previous pane'],
  ['↑ ↓ or k j', 'move; PgUp PgDn, g G: page, top, bottom'],
  ['Enter', 'open: a trace\'s waterfall; a service\'s logs'],
  ['Esc', 'back, or clear the filter'],
  ['/', 'filter: text, svc:NAME, status:5xx, flag:UO, >100ms, in, out'],
  ['p', 'pause the view (the mesh keeps running)'],
  ['n', 'instructor: run the next timeline event now'],
  ['a', 'apply the scenario file again now (up --watch does on every save)'],
  ['?', 'this help'],
  ['q, Ctrl-C', 'quit, stopping everything the run started'],
];

export function Help({ panes, width }: { panes: readonly Pane[]; width: number }) {
  const rows: Array<[string, string]> = [
    KEYS[0]!,
    ...panes.map((p, i): [string, string] => [String(i + 1), `${p.name}: ${p.summary}`]),
    ...KEYS.slice(1),
    ...panes.flatMap((p) => (p.keys ?? []).map((k): [string, string] => [k.key, `${p.name}: ${k.help}`])),
  ];
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1} width={width}>
      <Text bold>Keys</Text>
      {rows.map(([key, what]) => (
        <Box key={key}>
          <Text bold>{key.padEnd(16)}</Text>
          <Text>{fit(what, width - 22)}</Text>
        </Box>
      ))}
      <Text dimColor>Esc or ? to close</Text>
    </Box>
  );
}

const SPINNER = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';

export function Startup({ snapshot, tick, width }: { snapshot: UiSnapshot; tick: number; width: number }) {
  const ready = snapshot.startup.filter((i) => i.state === 'ready').length;
  const failed = snapshot.phase === 'failed';
  return (
    <Box flexDirection="column" width={width}>
      <Text bold>{fit(`mesh-sim up ${snapshot.scenario}: ${failed ? 'could not start' : 'starting'} on the ${snapshot.runtime} runtime (seed ${snapshot.seed})`, width)}</Text>
      <Text>{fit(snapshot.description, width)}</Text>
      <Text> </Text>
      {snapshot.startup.map((instance) => (
        <Box key={instance.id}>
          <Text color={instance.state === 'ready' ? 'green' : instance.state === 'starting' ? 'yellow' : 'red'}>
            {instance.state === 'ready' ? '✓' : instance.state === 'starting' ? SPINNER[tick % SPINNER.length] : '✗'}
          </Text>
          <Text>{` ${instance.id.padEnd(28)} ${instance.state}`}</Text>
        </Box>
      ))}
      <Text> </Text>
      <Text>{`${ready}/${snapshot.startup.length} ready`}</Text>
      {snapshot.message ? <Text color={failed ? 'red' : undefined} wrap="wrap">{snapshot.message}</Text> : null}
    </Box>
  );
}
