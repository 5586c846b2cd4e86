// The Config pane's model: the Istio resources in force now, each as a few readable lines
// (a VirtualService's rules with the share of its host's traffic each matched, a
// DestinationRule's subsets and policies), with where each was written.

import { routeLabel, virtualHostFor, type HttpRoute, type MeshConfig, type RequestMatch, type StringMatch, type TrafficPolicy } from '../policy/config.js';
import type { IstioResource } from '../istio/resources.js';
import { formatDuration } from '../scenario/units.js';

export interface ConfigLine {
  text: string;
  /** The share of its host's requests this route matched lately; null for lines that route nothing. */
  share: number | null;
  rps: number | null;
  where: string | undefined;
}

export interface ConfigResource {
  kind: string;
  name: string;
  where: string;
  shorthand: boolean;
  lines: ConfigLine[];
}

export interface ConfigView {
  version: number;
  resources: ConfigResource[];
  /** Hosts no VirtualService routes: Istio's default route. */
  unrouted: Array<{ host: string; rps: number }>;
}

function matchText(m: StringMatch): string {
  switch (m.kind) {
    case 'present': return 'present';
    case 'exact': return `=${m.value}`;
    case 'prefix': return `^${m.value}`;
    case 'regex': return `~/${m.value}/`;
  }
}

export function describeMatch(match: RequestMatch): string {
  const parts: string[] = [];
  if (match.uri) parts.push(`uri${matchText(match.uri)}`);
  if (match.method) parts.push(`method${matchText(match.method)}`);
  for (const h of match.headers) parts.push(`${h.name}${matchText(h.match)}`);
  for (const h of match.withoutHeaders) parts.push(`no ${h.name}${matchText(h.match)}`);
  for (const q of match.queryParams) parts.push(`?${q.name}${matchText(q.match)}`);
  if (match.sourceLabels) parts.push(`from ${Object.entries(match.sourceLabels).map(([k, v]) => `${k}=${v}`).join(',')}`);
  return parts.join(' ');
}

export function describeRoute(route: HttpRoute, index: number): string {
  const when = route.matches.length === 0 ? 'all' : route.matches.map(describeMatch).join(' | ');
  const to = route.directResponse
    ? `answer ${route.directResponse.status}`
    : route.redirect
      ? `redirect ${route.redirect.code} ${route.redirect.uri ?? ''}`.trim()
      : route.destinations.map((d) => `${d.host}${d.subset ? ` ${d.subset}` : ''}${route.destinations.length > 1 ? ` ${d.weight}` : ''}`).join(', ');
  const extras: string[] = [];
  if (route.fault.delay) extras.push(`delay ${formatDuration(route.fault.delay.fixedDelayMs)} ${route.fault.delay.percentage}%`);
  if (route.fault.abort) extras.push(`abort ${route.fault.abort.httpStatus} ${route.fault.abort.percentage}%`);
  if (route.timeoutMs !== undefined) extras.push(`timeout ${formatDuration(route.timeoutMs)}`);
  if (route.retries.where !== undefined) {
    extras.push(route.retries.attempts === 0 ? 'no retries' : `retries ${route.retries.attempts}${route.retries.perTryTimeoutMs !== undefined ? `×${formatDuration(route.retries.perTryTimeoutMs)}` : ''} on ${route.retries.retryOn.join(',')}${route.retries.statusCodes.length ? `,${route.retries.statusCodes.join(',')}` : ''}`);
  }
  for (const m of route.mirrors) extras.push(`mirror ${m.host}${m.subset ? ` ${m.subset}` : ''} ${m.percentage}%`);
  return `http[${index}] ${when} → ${to}${extras.length > 0 ? ` · ${extras.join(' · ')}` : ''}`;
}

export function describePolicy(policy: TrafficPolicy): string {
  const parts: string[] = [];
  const pool = policy.connectionPool;
  const limits = [
    pool.maxConnections < 4_294_967_295 ? `maxConnections ${pool.maxConnections}` : '',
    pool.http1MaxPendingRequests < 4_294_967_295 ? `pending ${pool.http1MaxPendingRequests}` : '',
    pool.http2MaxRequests < 4_294_967_295 ? `maxRequests ${pool.http2MaxRequests}` : '',
    pool.maxRetries < 4_294_967_295 ? `maxRetries ${pool.maxRetries}` : '',
    pool.maxRequestsPerConnection > 0 ? `perConnection ${pool.maxRequestsPerConnection}` : '',
  ].filter((p) => p !== '');
  if (limits.length > 0) parts.push(`pool ${limits.join(' ')}`);
  const od = policy.outlierDetection;
  if (od) {
    const on = [od.consecutive5xxErrors > 0 ? `${od.consecutive5xxErrors}×5xx` : '', od.consecutiveGatewayErrors > 0 ? `${od.consecutiveGatewayErrors}×gateway` : ''].filter((p) => p !== '');
    parts.push(`eject after ${on.join(' or ') || 'nothing'}, every ${formatDuration(od.intervalMs)}, for ${formatDuration(od.baseEjectionTimeMs)}+, ≤${od.maxEjectionPercent}%`);
  }
  if (policy.loadBalancer !== 'UNSPECIFIED') parts.push(`lb ${policy.loadBalancer}`);
  return parts.join(' · ');
}

/**
 * The resources in force, with each route's share of its host's recent requests.
 * `rates` is requests per second by route label (see routeLabel), over a recent window.
 */
export function configView(resources: readonly IstioResource[], config: MeshConfig, hosts: readonly string[], rates: ReadonlyMap<string, number>, version: number): ConfigView {
  const out: ConfigResource[] = [];
  const hostRate = (host: string) => virtualHostFor(config, host).routes.reduce((n, r) => n + (rates.get(routeLabel(r)) ?? 0), 0);
  for (const r of resources) {
    const lines: ConfigLine[] = [];
    if (r.kind === 'VirtualService') {
      for (const host of hosts) {
        const vh = config.virtualHosts[host];
        if (!vh || vh.origin?.name !== r.name || vh.origin.kind !== r.kind) continue;
        const total = hostRate(host);
        vh.routes.forEach((route, i) => {
          const rps = rates.get(routeLabel(route)) ?? 0;
          lines.push({ text: `${host} ${describeRoute(route, i)}`, share: total > 0 ? rps / total : 0, rps, where: route.ref.where });
        });
      }
    } else if (r.kind === 'DestinationRule') {
      const destination = Object.values(config.destinations).find((d) => d.origin?.name === r.name && d.origin.kind === r.kind);
      if (destination) {
        const policy = describePolicy(destination.policy);
        if (policy) lines.push({ text: `${destination.host}: ${policy}`, share: null, rps: null, where: destination.policy.where });
        const subsets = Object.values(destination.subsets);
        if (subsets.length > 0) {
          lines.push({ text: `subsets ${subsets.map((s) => `${s.name}(${Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(',')})`).join(' ')}`, share: null, rps: null, where: undefined });
        }
        for (const s of subsets) {
          if (s.policy === destination.policy) continue;
          const text = describePolicy(s.policy);
          if (text) lines.push({ text: `  ${s.name}: ${text}`, share: null, rps: null, where: s.policy.where });
        }
      }
    }
    out.push({ kind: r.kind, name: r.name, where: r.origin.where, shorthand: r.origin.shorthand === true, lines });
  }
  const unrouted = hosts.filter((h) => !config.virtualHosts[h]).map((host) => ({ host, rps: hostRate(host) }));
  return { version, resources: out, unrouted };
}
