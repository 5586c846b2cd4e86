// The Timeline pane: where the scenario is, the current narration large and boxed for
// the back of the room, the next event and its countdown, and the checks as they land.

import React from 'react';
import { Box, Text } from 'ink';
import { clock, type TimelineView } from '../model.js';
import { fit } from '../theme.js';
import { measuredText } from '../../telemetry/judge.js';
import type { Pane } from '../pane.js';

export function TimelinePane({ view, width, height }: { view: TimelineView; width: number; height: number }) {
  const end = view.durationMs ?? Math.max(view.elapsedMs, ...view.items.map((i) => i.atMs), 1);
  const trackWidth = Math.max(10, width - 16);
  const track = Array.from({ length: trackWidth }, () => '─');
  for (const item of view.items) track[Math.min(trackWidth - 1, Math.floor((item.atMs / end) * trackWidth))] = item.done ? '●' : '○';
  const position = Math.min(trackWidth - 1, Math.floor((view.elapsedMs / end) * trackWidth));
  const listRoom = Math.max(0, height - 12);
  return (
    <Box flexDirection="column" width={width}>
      <Box>
        <Text>{`${clock(view.elapsedMs).padStart(5)} `}</Text>
        <Text color="cyan">{track.slice(0, position).join('')}</Text>
        <Text inverse>{track[position]}</Text>
        <Text dimColor>{track.slice(position + 1).join('')}</Text>
        <Text>{` ${clock(end)}`}</Text>
      </Box>
      <Box borderStyle="double" borderColor="yellow" paddingX={2} paddingY={1} width={width} minHeight={5}>
        <Text bold color="yellow" wrap="wrap">{view.narration ? view.narration.text : 'No narration yet.'}</Text>
      </Box>
      <Text>{view.next ? fit(`next in ${clock(view.next.atMs - view.elapsedMs)}: ${view.next.label}   (n: now)`, width) : 'the timeline is over; the mesh keeps running until you quit'}</Text>
      {view.checks.map((c, i) => (
        <Text key={i} color={c.ok ? 'green' : 'red'}>{fit(`${c.ok ? '✓ PASS' : '✗ FAIL'} [${c.at}] ${c.expr}  ${measuredText(c)}`, width)}</Text>
      ))}
      {view.items.slice(0, listRoom).map((item, i) => (
        <Text key={i} dimColor={item.done}>{fit(`${item.done ? '●' : '○'} ${item.label}`, width)}</Text>
      ))}
    </Box>
  );
}

export const timelinePane: Pane = {
  name: 'Timeline',
  summary: 'where the scenario is, its narration, the next event, the checks as they land',
  rows: ({ snapshot }) => snapshot.timeline.items.length,
  render: ({ snapshot, width, height }) => <TimelinePane view={snapshot.timeline} width={width} height={height} />,
};
