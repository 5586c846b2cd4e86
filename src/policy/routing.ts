// Route selection as a VirtualService does it: the first route whose match holds
// wins, then a version is drawn by weight.

import type { Route, RouteMatch, StringMatch, WeightedVersion } from '../scenario/model.js';

export type Headers = Record<string, string | string[] | undefined>;

const regexCache = new Map<string, RegExp>();

/** Envoy's safe_regex matches the whole value, not a part of it. */
function fullRegex(source: string): RegExp {
  let re = regexCache.get(source);
  if (!re) {
    re = new RegExp(`^(?:${source})$`);
    regexCache.set(source, re);
  }
  return re;
}

export function matchString(match: StringMatch, value: string | undefined): boolean {
  if (value === undefined) return false;
  switch (match.kind) {
    case 'exact': return value === match.value;
    case 'prefix': return value.startsWith(match.value);
    case 'regex': return fullRegex(match.value).test(value);
  }
}

function headerValue(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

export function matches(match: RouteMatch, headers: Headers, path: string): boolean {
  const pathOnly = path.split('?')[0]!;
  if (match.path && !matchString(match.path, pathOnly)) return false;
  return match.headers.every((h) => matchString(h, headerValue(headers, h.name)));
}

/** The first route that matches; undefined when routes exist and none does (Envoy: 404 NR). */
export function selectRoute(routes: Route[], headers: Headers, path: string): { route: Route; index: number } | undefined {
  for (let index = 0; index < routes.length; index++) {
    const route = routes[index]!;
    if (route.matches.length === 0 || route.matches.some((m) => matches(m, headers, path))) return { route, index };
  }
  return undefined;
}

/** The destination `u` (uniform in [0, 1)) falls on, each holding a share equal to its weight. */
export function pickWeighted(destinations: WeightedVersion[], u: number): string | undefined {
  const total = destinations.reduce((sum, d) => sum + d.weight, 0);
  if (total <= 0) return undefined;
  let point = u * total;
  for (const d of destinations) {
    if (point < d.weight) return d.version;
    point -= d.weight;
  }
  return destinations.findLast((d) => d.weight > 0)?.version;
}
