// The Logs pane: every sidecar's access log, live, like stern: coloured by service,
// filterable by text, service, status class, response flag and latency, pausable and
// scrollable.

import React from 'react';
import { Box, Text } from 'ink';
import { matchesLog, parseLogFilter, type LogRow } from '../model.js';
import { fit, serviceColor, statusColor } from '../theme.js';
import type { Pane } from '../pane.js';

function time(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}`;
}

export function filterLogs(rows: readonly LogRow[], filter: string): LogRow[] {
  if (filter.trim() === '') return [...rows];
  const parsed = parseLogFilter(filter);
  return rows.filter((row) => matchesLog(row, parsed));
}

/** `scroll` counts lines up from the newest: 0 follows the log as it grows. */
export function LogsPane({ rows, filter, scroll, width, height }: { rows: readonly LogRow[]; filter: string; scroll: number; width: number; height: number }) {
  const visible = filterLogs(rows, filter);
  const room = Math.max(1, height - 1);
  const end = Math.max(0, visible.length - scroll);
  const shown = visible.slice(Math.max(0, end - room), end);
  const instanceWidth = Math.min(22, Math.max(12, ...shown.map((r) => r.instance.length)));
  const invalid = parseLogFilter(filter).invalid;
  return (
    <Box flexDirection="column" width={width}>
      {shown.length === 0 ? <Text dimColor>{filter ? `no line matches “${filter}”` : 'waiting for requests…'}</Text> : null}
      {shown.map((row, i) => (
        <Box key={`${row.at}-${i}`}>
          <Text dimColor>{`${time(row.at)} `}</Text>
          <Text color={serviceColor(row.service)}>{`${row.instance.padEnd(instanceWidth)} `}</Text>
          {row.kind === 'access'
            ? <Text color={statusColor(row.status)}>{fit(row.text, Math.max(0, width - instanceWidth - 10))}</Text>
            : <Text color={row.kind === 'outlier' ? 'yellow' : undefined} bold={row.kind === 'outlier'}>{fit(row.text, Math.max(0, width - instanceWidth - 10))}</Text>}
        </Box>
      ))}
      <Text dimColor>{fit(`${visible.length} of ${rows.length} lines${filter ? ` match “${filter}”` : ''}${scroll > 0 ? `, scrolled up ${scroll}` : ''}${invalid.length ? `  (not understood: ${invalid.join(' ')})` : ''}`, width)}</Text>
    </Box>
  );
}

export const logsPane: Pane = {
  name: 'Logs',
  summary: "every sidecar's access log; / filters: text, svc:NAME, status:5xx, flag:UO, >100ms, in, out",
  rows: ({ snapshot, view }) => filterLogs(snapshot.logs, view.filters.Logs ?? '').length,
  render: ({ snapshot, view, width, height }) => <LogsPane rows={snapshot.logs} filter={view.filters.Logs ?? ''} scroll={view.logScroll} width={width} height={height} />,
};
