// The Config pane: the Istio resources in force now (what `kubectl get vs,dr` would list),
// each VirtualService rule with the share of its host's traffic it matched lately, each
// DestinationRule's subsets and policies, and where each was written.

import React from 'react';
import { Box, Text } from 'ink';
import type { Pane } from '../pane.js';
import type { ConfigView } from '../config-view.js';
import { formatPercent, formatRps } from '../model.js';
import { fit, pad } from '../theme.js';

function lines(view: ConfigView): Array<{ text: string; tail: string; kind: 'head' | 'rule' | 'note' }> {
  const out: Array<{ text: string; tail: string; kind: 'head' | 'rule' | 'note' }> = [];
  for (const r of view.resources) {
    out.push({ text: `${r.kind} ${r.name}`, tail: r.shorthand ? `mesh: ${r.where}` : r.where, kind: 'head' });
    for (const l of r.lines) {
      const tail = l.share === null ? '' : `${pad(formatPercent(l.share), 5, true)} ${pad(formatRps(l.rps ?? 0), 6, true)} rps`;
      out.push({ text: `  ${l.text}`, tail, kind: 'rule' });
    }
  }
  for (const u of view.unrouted) out.push({ text: `${u.host}: no VirtualService, Istio's default route (all its pods, 2 retries)`, tail: `${pad(formatRps(u.rps), 6, true)} rps`, kind: 'note' });
  return out;
}

export function ConfigPane({ view, offset, width, height }: { view: ConfigView; offset: number; width: number; height: number }) {
  const all = lines(view);
  const room = Math.max(1, height - 2);
  return (
    <Box flexDirection="column" width={width}>
      <Text dimColor>{fit(`Istio resources in force (config v${view.version}): rules, with the share of their host's requests each matched over the last 10 s`, width)}</Text>
      {view.resources.length === 0 ? <Text dimColor>no Istio resources: every host takes Istio's default route and traffic policy</Text> : null}
      {all.slice(offset, offset + room).map((line, i) => {
        const tailWidth = line.tail.length > 0 ? Math.min(line.tail.length, Math.floor(width / 2)) : 0;
        return (
          <Box key={i}>
            <Text bold={line.kind === 'head'} dimColor={line.kind === 'note'}>{fit(line.text, Math.max(0, width - tailWidth - 1)).padEnd(Math.max(0, width - tailWidth - 1))}</Text>
            <Text dimColor={line.kind !== 'rule'}>{` ${fit(line.tail, tailWidth)}`}</Text>
          </Box>
        );
      })}
    </Box>
  );
}

export const configPane: Pane = {
  name: 'Config',
  summary: 'the Istio resources in force, each route rule with the share of traffic it matched',
  rows: ({ snapshot }) => lines(snapshot.config).length,
  render: ({ snapshot, view, width, height }) => <ConfigPane view={snapshot.config} offset={view.selected.Config ?? 0} width={width} height={height} />,
};
