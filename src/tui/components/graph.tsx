// The Graph pane: the service graph drawn as the calls flow, from the ingress gateway
// down, each edge with its rate and error share (red when it fails) and a lock where it
// is mutual TLS, each service with its instances (ejected ones marked). `v` switches to
// the graph between versions (Kiali's versioned-app graph: productpage v1 → reviews v2).

import React from 'react';
import { Box, Text } from 'ink';
import { formatPercent, formatRps, type EdgeRow, type ServiceRow } from '../model.js';
import { fit, serviceColor } from '../theme.js';
import { GATEWAY } from '../../control/protocol.js';
import type { Pane, PaneContext } from '../pane.js';

export interface GraphLine {
  prefix: string;
  node: string;
  edge: EdgeRow | undefined;
  /** Already drawn above: not expanded again. */
  repeat: boolean;
}

/** The graph as lines of a tree from the roots (the gateway first), declared calls included. */
export function graphLines(edges: readonly EdgeRow[], declared: ReadonlyArray<[string, string]>, services: readonly string[]): GraphLine[] {
  const out = new Map<string, EdgeRow[]>();
  const add = (edge: EdgeRow) => {
    const list = out.get(edge.source) ?? [];
    if (!list.some((e) => e.destination === edge.destination)) list.push(edge);
    out.set(edge.source, list);
  };
  for (const edge of edges) add(edge);
  for (const [source, destination] of declared) add({ source, destination, rps: 0, errorShare: 0 });
  const hasParent = new Set([...out.values()].flat().map((e) => e.destination));
  const roots = [GATEWAY.name, ...services.filter((s) => !hasParent.has(s))].filter((n, i, all) => all.indexOf(n) === i && (out.has(n) || n !== GATEWAY.name));
  const lines: GraphLine[] = [];
  const drawn = new Set<string>();
  const visit = (node: string, prefix: string, childPrefix: string, edge: EdgeRow | undefined) => {
    const repeat = drawn.has(node);
    lines.push({ prefix, node, edge, repeat });
    if (repeat) return;
    drawn.add(node);
    const children = [...(out.get(node) ?? [])].sort((a, b) => a.destination.localeCompare(b.destination));
    children.forEach((child, i) => {
      const last = i === children.length - 1;
      visit(child.destination, `${childPrefix}${last ? '└─▶ ' : '├─▶ '}`, `${childPrefix}${last ? '    ' : '│   '}`, child);
    });
  };
  for (const root of roots) visit(root, '', '', undefined);
  return lines;
}

export function GraphPane({ edges, declared, services, width, height, offset, versions = false }: {
  edges: readonly EdgeRow[]; declared: ReadonlyArray<[string, string]>; services: readonly ServiceRow[]; width: number; height: number; offset: number; versions?: boolean;
}) {
  const lines = graphLines(edges, declared, services.map((s) => s.name));
  const byName = new Map(services.map((s) => [s.name, s]));
  const colorOf = (node: string) => serviceColor(node.split(' ')[0]!);
  return (
    <Box flexDirection="column" width={width}>
      {lines.slice(offset, offset + Math.max(1, height - 1)).map((line, index) => {
        const service = byName.get(line.node);
        const edge = line.edge;
        const failing = edge !== undefined && edge.errorShare >= 0.05;
        const label = edge ? (edge.rps === 0 ? ' no traffic' : ` ${formatRps(edge.rps)} rps ${formatPercent(edge.errorShare)} err${edge.mtls ? ' 🔒mTLS' : ''}`) : '';
        const pods = service?.instances.map((i) => (i.state !== 'ready' ? `${i.id} ✗` : i.ejected ? `${i.id} ⊘ ejected` : '')).filter((t) => t !== '').join(', ');
        return (
          <Box key={index}>
            <Text color={failing ? 'red' : edge && edge.errorShare > 0 ? 'yellow' : edge?.rps === 0 ? 'gray' : undefined}>{line.prefix}</Text>
            <Text bold color={line.node === GATEWAY.name ? undefined : colorOf(line.node)}>{line.node}</Text>
            <Text color={failing ? 'red' : edge?.rps === 0 ? 'gray' : undefined}>{fit(label, Math.max(0, width - line.prefix.length - line.node.length))}</Text>
            {line.repeat ? <Text dimColor> (see above)</Text> : null}
            {pods ? <Text color="red">{fit(`  ${pods}`, Math.max(0, width - line.prefix.length - line.node.length - label.length))}</Text> : null}
          </Box>
        );
      })}
      <Text dimColor>{fit(`${versions ? 'versions' : 'services'} (v: ${versions ? 'services' : 'versions'}); edges: rate and error share over 10 s, red at 5 % errors; 🔒 mutual TLS`, width)}</Text>
    </Box>
  );
}

/** What the graph draws: services with the calls declared but idle, or the versions traffic actually reached. */
function graphInput({ snapshot, source, view }: PaneContext): { edges: readonly EdgeRow[]; declared: ReadonlyArray<[string, string]>; names: string[] } {
  return view.versions
    ? { edges: snapshot.versionedEdges, declared: [], names: [] }
    : { edges: snapshot.edges, declared: source.declaredEdges(), names: snapshot.services.map((s) => s.name) };
}

export const graphPane: Pane = {
  name: 'Graph',
  summary: 'the service graph from the gateway down: rate, error share and mTLS per edge; by version with v',
  rows: (ctx) => {
    const { edges, declared, names } = graphInput(ctx);
    return graphLines(edges, declared, names).length;
  },
  render: (ctx) => {
    const { edges, declared } = graphInput(ctx);
    const { snapshot, view, width, height } = ctx;
    return <GraphPane edges={edges} declared={declared} services={view.versions ? [] : snapshot.services} width={width} height={height} offset={view.selected.Graph ?? 0} versions={view.versions} />;
  },
  keys: [{ key: 'v', help: 'the graph by version (workloads), or by service', act: () => ({ type: 'versions' }) }],
};
