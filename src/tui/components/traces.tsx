// The Traces pane: recent traces (the slowest and failed ones findable), and a trace's
// waterfall, Jaeger-like: one row per span, indented by parent, a bar scaled to the
// trace, retries and faults marked, and for the selected span why it failed or was
// slow, in words, with the scenario rule that caused it.

import React from 'react';
import { Box, Text } from 'ink';
import { bar, explain, formatMs, selectTraces, waterfall, type TraceOrder, type TraceRow, type WaterfallRow } from '../model.js';
import { fit, pad, serviceColor } from '../theme.js';
import type { Pane, PaneContext } from '../pane.js';

export function TraceList({ rows, selected, failedOnly, order, filter, width, height }: {
  rows: readonly TraceRow[]; selected: number; failedOnly: boolean; order: TraceOrder; filter: string; width: number; height: number;
}) {
  const shown = selectTraces(rows, { failedOnly, order, text: filter });
  const room = Math.max(1, height - 3);
  const first = Math.max(0, Math.min(selected - Math.floor(room / 2), shown.length - room));
  const labelWidth = Math.max(16, width - 44);
  return (
    <Box flexDirection="column" width={width}>
      <Text dimColor>{fit(`${pad('TIME', 9)}${pad('TRACE', labelWidth)} ${pad('DURATION', 9, true)} ${pad('SPANS', 6, true)} ${pad('SVCS', 5, true)}  ${failedOnly ? '[failed only: f]' : ''}${order === 'slowest' ? ' [slowest: o]' : ''}`, width)}</Text>
      {shown.length === 0 ? <Text dimColor>{failedOnly ? 'no failed trace (f shows all)' : 'no trace yet'}</Text> : null}
      {shown.slice(first, first + room).map((row, i) => {
        const index = first + i;
        const d = new Date(row.startMs);
        const t = `${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}.${String(d.getMilliseconds()).padStart(3, '0').slice(0, 1)}`;
        return (
          <Box key={row.traceId}>
            <Text inverse={index === selected}>{`${pad(t, 9)}${pad(row.label, labelWidth)}`}</Text>
            <Text color={row.durationMs >= 1000 ? 'yellow' : undefined}>{` ${pad(formatMs(row.durationMs), 9, true)}`}</Text>
            <Text>{` ${pad(String(row.spanCount), 6, true)} ${pad(String(row.services.length), 5, true)}  `}</Text>
            {row.error ? <Text color="red">✗ failed</Text> : !row.complete ? <Text color="yellow">incomplete</Text> : null}
          </Box>
        );
      })}
      <Text dimColor>{fit(`${shown.length} traces${filter ? ` matching “${filter}”` : ''} · Enter: waterfall · f: failed only · o: slowest first · /: find`, width)}</Text>
    </Box>
  );
}

export function Waterfall({ rows, totalMs, traceId, selected, width, height }: {
  rows: readonly WaterfallRow[]; totalMs: number; traceId: string; selected: number; width: number; height: number;
}) {
  const current = rows[selected];
  const why = current ? explain(current) : [];
  const detailLines = Math.min(why.length + 2, 7);
  const room = Math.max(1, height - 2 - detailLines);
  const first = Math.max(0, Math.min(selected - Math.floor(room / 2), rows.length - room));
  const labelWidth = Math.min(44, Math.max(24, Math.floor(width * 0.45)));
  const barWidth = Math.max(8, width - labelWidth - 12);
  return (
    <Box flexDirection="column" width={width}>
      <Text bold>{fit(`trace ${traceId}  ${formatMs(totalMs)}  ${rows.length} spans   (Esc: back)`, width)}</Text>
      {rows.slice(first, first + room).map((row, i) => {
        const index = first + i;
        const marks = `${row.retry ? ' ↻' : ''}${row.fault ? ` ⚡${row.fault}` : ''}${row.flags.length ? ` ${row.flags.join(',')}` : ''}`;
        const label = `${'  '.repeat(row.depth)}${row.label}${marks}`;
        return (
          <Box key={row.span.spanId}>
            <Text inverse={index === selected} color={row.error ? 'red' : serviceColor(row.span.service)}>{pad(label, labelWidth)}</Text>
            <Text> </Text>
            <Text color={row.error ? 'red' : row.span.kind === 'client' ? 'gray' : serviceColor(row.span.service)}>{bar(row.offsetMs, row.durationMs, totalMs, barWidth)}</Text>
            <Text>{` ${pad(formatMs(row.durationMs), 8, true)}`}</Text>
          </Box>
        );
      })}
      {current ? (
        <Box flexDirection="column" borderStyle="single" borderColor={current.error ? 'red' : 'gray'} width={width}>
          <Text>{fit(`${current.span.kind} span of ${current.span.service}: ${current.status ?? 'no status'}${current.attempt !== undefined ? `, attempt ${current.attempt}` : ''}, ${formatMs(current.durationMs)}`, width - 2)}</Text>
          {why.slice(0, 5).map((line) => <Text key={line} color={current.error ? 'red' : 'yellow'}>{fit(line, width - 2)}</Text>)}
        </Box>
      ) : null}
    </Box>
  );
}

function listed(ctx: PaneContext): TraceRow[] {
  return selectTraces(ctx.snapshot.traces, { failedOnly: ctx.view.failedOnly, order: ctx.view.order, text: ctx.view.filters.Traces ?? '' });
}

function opened(ctx: PaneContext): ReturnType<typeof waterfall> | undefined {
  const spans = ctx.view.openTrace ? ctx.source.spansOf(ctx.view.openTrace) : undefined;
  return spans && spans.length > 0 ? waterfall(spans) : undefined;
}

export const tracesPane: Pane = {
  name: 'Traces',
  summary: "recent traces; Enter opens a waterfall whose selected span says why it failed, and which rule caused it",
  rows: (ctx) => opened(ctx)?.rows.length ?? listed(ctx).length,
  render: (ctx) => {
    const fall = opened(ctx);
    const { view, width, height } = ctx;
    return fall
      ? <Waterfall rows={fall.rows} totalMs={fall.durationMs} traceId={view.openTrace!} selected={view.spanSelected} width={width} height={height} />
      : <TraceList rows={ctx.snapshot.traces} selected={view.selected.Traces ?? 0} failedOnly={view.failedOnly} order={view.order} filter={view.filters.Traces ?? ''} width={width} height={height} />;
  },
  keys: [
    { key: 'f', help: 'failed traces only', act: () => ({ type: 'failedOnly' }) },
    { key: 'o', help: 'slowest first', act: () => ({ type: 'order' }) },
  ],
  enter: (ctx) => {
    if (ctx.view.openTrace) return undefined;
    const row = listed(ctx)[ctx.view.selected.Traces ?? 0];
    return row ? { type: 'openTrace', traceId: row.traceId } : undefined;
  },
  hints: ({ view }) => (view.openTrace ? '↑↓ span  Esc back  Tab panes  p pause  n next event  ? help  q quit' : undefined),
};
