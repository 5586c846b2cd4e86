// Route selection as Envoy does it for a VirtualService: the first http[] rule one of
// whose matches holds wins (uri, method, authority, headers, query parameters, the
// caller's labels and namespace, the port), then a destination is drawn by weight.
// Regular expressions are RE2, as Envoy's safe_regex: linear time, whole-value match.

import { RE2JS } from 're2js';
import type { HttpRoute, NamedMatch, RequestMatch, RouteDestination, StringMatch } from './config.js';

export type Headers = Record<string, string | string[] | undefined>;

/** What a route match may look at in one request. */
export interface RequestAttributes {
  /** The path with its query string, as it came. */
  path: string;
  method: string;
  authority: string;
  headers: Headers;
  /** The service port the request was addressed to. */
  port: number;
  /** The calling workload's labels and namespace. */
  source: { app: string; version: string; namespace: string };
}

const regexCache = new Map<string, RE2JS>();

function re2(source: string): RE2JS {
  let re = regexCache.get(source);
  if (!re) {
    re = RE2JS.compile(source);
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(source, re);
  }
  return re;
}

export function matchString(match: StringMatch, value: string | undefined): boolean {
  if (value === undefined) return false;
  switch (match.kind) {
    case 'present': return true;
    case 'exact': return match.ignoreCase ? value.toLowerCase() === match.value.toLowerCase() : value === match.value;
    case 'prefix': return match.ignoreCase ? value.toLowerCase().startsWith(match.value.toLowerCase()) : value.startsWith(match.value);
    case 'regex': return re2(match.value).matches(value);
  }
}

function headerValue(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function queryParams(path: string): Map<string, string> {
  const q = path.indexOf('?');
  const params = new Map<string, string>();
  if (q === -1) return params;
  for (const [k, v] of new URLSearchParams(path.slice(q + 1))) if (!params.has(k)) params.set(k, v);
  return params;
}

function all(matches: NamedMatch[], value: (name: string) => string | undefined): boolean {
  return matches.every((m) => matchString(m.match, value(m.name)));
}

export function matches(match: RequestMatch, req: RequestAttributes): boolean {
  if (match.uri && !matchString(match.uri, req.path.split('?')[0]!)) return false;
  if (match.method && !matchString(match.method, req.method)) return false;
  if (match.authority && !matchString(match.authority, req.authority)) return false;
  if (match.scheme && !matchString(match.scheme, 'http')) return false;
  if (match.port !== undefined && match.port !== req.port) return false;
  if (match.sourceNamespace !== undefined && match.sourceNamespace !== req.source.namespace) return false;
  if (match.sourceLabels) {
    for (const [k, v] of Object.entries(match.sourceLabels)) {
      const have = k === 'app' ? req.source.app : k === 'version' ? req.source.version : undefined;
      if (have !== v) return false;
    }
  }
  if (!all(match.headers, (name) => headerValue(req.headers, name))) return false;
  if (match.withoutHeaders.some((m) => matchString(m.match, headerValue(req.headers, m.name)))) return false;
  if (match.queryParams.length > 0) {
    const params = queryParams(req.path);
    if (!all(match.queryParams, (name) => params.get(name))) return false;
  }
  return true;
}

/** The first route that matches; undefined when none does (Envoy: 404 NR). */
export function selectRoute(routes: readonly HttpRoute[], req: RequestAttributes): { route: HttpRoute; index: number; match: number } | undefined {
  for (let index = 0; index < routes.length; index++) {
    const route = routes[index]!;
    if (route.matches.length === 0) return { route, index, match: -1 };
    const match = route.matches.findIndex((m) => matches(m, req));
    if (match !== -1) return { route, index, match };
  }
  return undefined;
}

/** The destination `u` (uniform in [0, 1)) falls on, each holding weight/(sum of weights) of them. */
export function pickWeighted(destinations: readonly RouteDestination[], u: number): RouteDestination | undefined {
  const total = destinations.reduce((sum, d) => sum + d.weight, 0);
  if (total <= 0) return undefined;
  let point = u * total;
  for (const d of destinations) {
    if (point < d.weight) return d;
    point -= d.weight;
  }
  return destinations.findLast((d) => d.weight > 0);
}
