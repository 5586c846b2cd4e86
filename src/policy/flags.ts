// Envoy's response flags, as access logs and istio_requests_total carry them, with
// the plain words the terminal UI uses to say why a request failed.

export const RESPONSE_FLAGS = {
  DI: 'the request was delayed by an injected fault (fault.delay)',
  FI: 'the request was aborted by an injected fault (fault.abort)',
  UT: "the caller's timeout fired before the upstream answered",
  URX: 'the retries ran out: every attempt failed',
  UF: 'the upstream could not be connected to (is it running?)',
  UC: 'the upstream closed the connection before answering',
  UO: 'a circuit breaker overflowed: too many requests in flight or waiting, or retries (connectionPool)',
  UH: 'no healthy upstream: every instance is ejected or gone',
  NR: 'no route matched the request (a VirtualService\'s http[] matches)',
  NC: 'no such cluster: the route names a subset no DestinationRule defines',
  DC: 'the caller went away before the answer (it timed out or gave up)',
} as const;

export type ResponseFlag = keyof typeof RESPONSE_FLAGS;

/** Envoy prints flags in the order of its ResponseFlag enumeration, whatever order they were set in. */
const ENVOY_ORDER: readonly ResponseFlag[] = ['UH', 'UT', 'UF', 'UC', 'UO', 'NR', 'DI', 'FI', 'DC', 'URX', 'NC'];

/** The access-log form: flags joined by commas in Envoy's order, `-` for none. */
export function formatFlags(flags: readonly ResponseFlag[]): string {
  if (flags.length === 0) return '-';
  return [...new Set(flags)].sort((a, b) => ENVOY_ORDER.indexOf(a) - ENVOY_ORDER.indexOf(b)).join(',');
}

export function parseFlags(text: string | undefined): ResponseFlag[] {
  if (!text || text === '-') return [];
  return text.split(',').filter((f): f is ResponseFlag => f in RESPONSE_FLAGS);
}
