// The Services pane: one row per service, like `linkerd viz stat` or k9s: versions,
// instances and their health, rate, success rate, latency percentiles, a sparkline.

import React from 'react';
import { Box, Text } from 'ink';
import { formatMs, formatPercent, formatRps, health, sortServices, sparkline, type ServiceRow, type ServiceSort } from '../model.js';
import { HEALTH_COLOR, fit, pad, serviceColor } from '../theme.js';
import type { Pane } from '../pane.js';

function instanceMarks(row: ServiceRow): Array<{ mark: string; color: string }> {
  return row.instances.map((i) => {
    if (i.state === 'ready') return i.ejected ? { mark: '⊘', color: 'yellow' } : { mark: '●', color: 'green' };
    if (i.state === 'starting') return { mark: '◌', color: 'yellow' };
    return { mark: '✗', color: 'red' };
  });
}

export function ServicesPane({ rows, sort, selected, width, height, entry, links }: {
  rows: readonly ServiceRow[]; sort: ServiceSort; selected: number; width: number; height: number;
  /** How to call the mesh yourself: `curl -H 'Host: productpage' http://127.0.0.1:PORT/productpage`. */
  entry?: string | undefined;
  /** Prometheus and Grafana, when they run, and why not when they do not. */
  links?: { prometheus: string | undefined; grafana: string | undefined; jaeger?: string | undefined; notes: string[] };
}) {
  const linkText = [links?.prometheus ? `Prometheus ${links.prometheus}` : '', links?.grafana ? `Grafana ${links.grafana}` : '', links?.jaeger ? `Jaeger ${links.jaeger}` : ''].filter((l) => l !== '').join('   ');
  const notes = links?.notes ?? [];
  const sorted = sortServices(rows, sort);
  const spark = width >= 100 ? 20 : width >= 90 ? 10 : 0;
  const nameWidth = Math.max(10, Math.min(20, width - 64 - spark));
  const header = `${pad('SERVICE', nameWidth)} ${pad('VERSIONS', 10)} ${pad('PODS', 6)} ${pad('RPS', 6, true)} ${pad('SUCCESS', 7, true)} ${pad('P50', 7, true)} ${pad('P90', 7, true)} ${pad('P99', 7, true)}${spark ? `  ${pad('RPS 30s', spark)}` : ''}`;
  return (
    <Box flexDirection="column" width={width}>
      <Text dimColor>{fit(header, width)}</Text>
      {sorted.slice(0, Math.max(0, height - 2)).map((row, index) => {
        const color = HEALTH_COLOR[health(row.successRate)];
        const marks = instanceMarks(row);
        return (
          <Box key={row.name}>
            <Text inverse={index === selected} color={serviceColor(row.name)}>{pad(row.name, nameWidth)}</Text>
            <Text>{` ${pad(row.versions.join(' '), 10)} `}</Text>
            {marks.slice(0, 6).map((m, i) => <Text key={i} color={m.color}>{m.mark}</Text>)}
            <Text>{' '.repeat(Math.max(0, 6 - Math.min(6, marks.length)))}</Text>
            <Text>{` ${pad(formatRps(row.rps), 6, true)} `}</Text>
            <Text color={color}>{pad(formatPercent(row.successRate), 7, true)}</Text>
            <Text>{` ${pad(formatMs(row.p50Ms), 7, true)} ${pad(formatMs(row.p90Ms), 7, true)} `}</Text>
            <Text color={row.p99Ms !== null && row.p99Ms >= 1000 ? 'yellow' : undefined}>{pad(formatMs(row.p99Ms), 7, true)}</Text>
            {spark ? <Text color={color}>{`  ${sparkline(row.rpsHistory, spark)}`}</Text> : null}
          </Box>
        );
      })}
      <Text dimColor>{fit(`● ready  ⊘ ejected by a caller  ◌ starting  ✗ killed or exited · last 10 s · sorted by ${sort} (s) · ⏎ logs`, width)}</Text>
      {entry ? <Text dimColor>{fit(`try it: ${entry}`, width)}</Text> : null}
      {linkText ? <Text dimColor>{fit(linkText, width)}</Text> : null}
      {notes.slice(0, 2).map((note) => <Text key={note} dimColor>{fit(note, width)}</Text>)}
    </Box>
  );
}

export const servicesPane: Pane = {
  name: 'Services',
  summary: 'per service: pods, rps, success rate, p50/p90/p99, a 30 s sparkline',
  rows: ({ snapshot }) => snapshot.services.length,
  render: ({ snapshot, view, width, height }) => (
    <ServicesPane rows={snapshot.services} sort={view.sort} selected={view.selected.Services ?? 0} width={width} height={height} entry={snapshot.entry}
      links={{ prometheus: snapshot.prometheus, grafana: snapshot.grafana, jaeger: snapshot.jaeger, notes: snapshot.observabilityNotes }} />
  ),
  keys: [{ key: 's', help: 'sort by name, rps, errors, p99', act: () => ({ type: 'sort' }) }],
  enter: ({ snapshot, view }) => {
    const row = sortServices(snapshot.services, view.sort)[view.selected.Services ?? 0];
    return row ? { type: 'logsOf', service: row.name } : undefined;
  },
};
