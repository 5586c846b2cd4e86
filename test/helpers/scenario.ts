// Loading scenario text in tests, and reading back the problems it yields as lines.

import { parseScenario, type LoadedScenario } from '../../src/scenario/load.js';
import { ScenarioError, formatProblem } from '../../src/scenario/problems.js';

export const FILE = 'test.yaml';

/** Strips the common indentation, so scenarios can be written inline in tests. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const raw = strings.reduce((out, s, i) => out + s + (i < values.length ? String(values[i]) : ''), '');
  const lines = raw.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

export function load(text: string): LoadedScenario {
  return parseScenario(text, FILE);
}

/** The problems a text yields, formatted as `validate` prints them; [] when it loads. */
export function problems(text: string): string[] {
  try {
    const { warnings } = parseScenario(text, FILE);
    return warnings.map(formatProblem);
  } catch (error) {
    if (error instanceof ScenarioError) return error.problems.map(formatProblem);
    throw error;
  }
}

export function errors(text: string): string[] {
  return problems(text).filter((p) => !p.includes(': warning: '));
}

export function warnings(text: string): string[] {
  return problems(text).filter((p) => p.includes(': warning: '));
}

/**
 * Istio's Circuit Breaking task in small: one connection and one pending place to httpbin,
 * and fortio's three requests in flight, so most of them overflow (503 UO) at the caller.
 */
export const BREAKER = `
name: breaker
services:
  httpbin: {port: 8000, latency: 20ms}
istio:
  - apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata: {name: httpbin}
    spec:
      host: httpbin
      trafficPolicy:
        connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}}
traffic:
  - {name: fortio, to: httpbin, path: /get, concurrency: 3, requests: 30}
`;
