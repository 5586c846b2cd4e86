// Istio's security policies, compiled, and the two decisions made with them, as pure
// functions: which connections a workload's sidecar accepts (PeerAuthentication:
// STRICT, PERMISSIVE, DISABLE; the workload's policy over its namespace's over the
// mesh's, a port's over the workload's), and whether it serves a request
// (AuthorizationPolicy: any matching DENY denies; then, if any ALLOW policy applies,
// one must match; AUDIT decides nothing). Denials name the policy and rule as Envoy's
// RBAC filter does: `ns[default]-policy[deny-get]-rule[0]`, or `none`.

import type { Origin } from './config.js';

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';
/** Istio's default where no PeerAuthentication says otherwise. */
export const DEFAULT_MTLS_MODE: MtlsMode = 'PERMISSIVE';
export const ROOT_NAMESPACE = 'istio-system';

interface Scoped {
  origin: Origin;
  namespace: string;
  name: string;
  /** matchLabels; undefined: every workload of its namespace (of the mesh, in the root namespace). */
  selector: Record<string, string> | undefined;
}

export interface PeerAuthenticationConfig extends Scoped {
  /** undefined: UNSET, inherit from the parent scope. */
  mode: MtlsMode | undefined;
  ports: Record<string, MtlsMode | undefined>;
}

export interface SourceRule {
  principals?: string[];
  notPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
}
export interface OperationRule {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}
export interface ConditionRule {
  key: string;
  values?: string[];
  notValues?: string[];
}
export interface AuthorizationRule {
  from: SourceRule[] | undefined;
  to: OperationRule[] | undefined;
  when: ConditionRule[];
}
export interface AuthorizationConfig extends Scoped {
  action: 'ALLOW' | 'DENY' | 'AUDIT';
  rules: AuthorizationRule[];
}

/** The pod a policy is judged for. */
export interface Workload {
  namespace: string;
  labels: Record<string, string>;
}

function selects(policy: Scoped, workload: Workload): boolean {
  if (policy.namespace !== workload.namespace && policy.namespace !== ROOT_NAMESPACE) return false;
  return Object.entries(policy.selector ?? {}).every(([k, v]) => workload.labels[k] === v);
}

/** The mTLS mode a workload's sidecar enforces on `port`. */
export function mtlsModeFor(policies: readonly PeerAuthenticationConfig[], workload: Workload, port: number): MtlsMode {
  const applying = policies.filter((p) => selects(p, workload));
  const mesh = applying.find((p) => p.namespace === ROOT_NAMESPACE && p.selector === undefined);
  const namespace = applying.find((p) => p.namespace === workload.namespace && p.selector === undefined);
  const specific = applying.find((p) => p.selector !== undefined);
  let mode = mesh?.mode ?? DEFAULT_MTLS_MODE;
  if (namespace?.mode) mode = namespace.mode;
  if (specific?.mode) mode = specific.mode;
  const portMode = specific?.ports[String(port)];
  return portMode ?? mode;
}

/** What Istio's stats and AuthorizationPolicy know of a request. */
export interface AuthorizationRequest {
  /** `cluster.local/ns/default/sa/productpage`; undefined for a plaintext request. */
  principal: string | undefined;
  namespace: string | undefined;
  method: string;
  /** Without the query. */
  path: string;
  host: string;
  port: number;
  headers: Record<string, string | string[] | undefined>;
}

export type AuthorizationDecision =
  | { allowed: true; audited: string | undefined }
  | { allowed: false; policy: string; origin: Origin | undefined };

/** Istio's string match: exact, `prefix*`, `*suffix`, or `*` for any non-empty value. */
export function istioValueMatches(pattern: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (pattern === '*') return value !== '';
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  return value === pattern;
}

/** A field with values and notValues: any value must match (when given), no notValue may. */
function field(values: string[] | undefined, notValues: string[] | undefined, value: string | undefined, match = istioValueMatches): boolean {
  if (values && !values.some((p) => match(p, value))) return false;
  if (notValues && notValues.some((p) => match(p, value))) return false;
  return true;
}

const hostMatches = (pattern: string, host: string | undefined): boolean => {
  if (host === undefined) return false;
  const lower = host.toLowerCase();
  const bare = lower.replace(/:\d+$/, '');
  return istioValueMatches(pattern.toLowerCase(), lower) || istioValueMatches(pattern.toLowerCase(), bare);
};

function sourceMatches(s: SourceRule, r: AuthorizationRequest): boolean {
  return field(s.principals, s.notPrincipals, r.principal) && field(s.namespaces, s.notNamespaces, r.namespace);
}

function operationMatches(o: OperationRule, r: AuthorizationRequest): boolean {
  return field(o.hosts, o.notHosts, r.host, hostMatches)
    && field(o.ports, o.notPorts, String(r.port))
    && field(o.methods, o.notMethods, r.method)
    && field(o.paths, o.notPaths, r.path);
}

function conditionValue(key: string, r: AuthorizationRequest): string | undefined {
  const header = /^request\.headers\[(.+)\]$/.exec(key);
  if (header) {
    const value = r.headers[header[1]!.toLowerCase()];
    return Array.isArray(value) ? value.join(',') : value;
  }
  switch (key) {
    case 'source.principal': return r.principal;
    case 'source.namespace': return r.namespace;
    case 'destination.port': return String(r.port);
    default: return undefined;
  }
}

function ruleMatches(rule: AuthorizationRule, r: AuthorizationRequest): boolean {
  if (rule.from && !rule.from.some((s) => sourceMatches(s, r))) return false;
  if (rule.to && !rule.to.some((o) => operationMatches(o, r))) return false;
  return rule.when.every((c) => field(c.values, c.notValues, conditionValue(c.key, r)));
}

/** The first rule of `policy` that matches, as Envoy's policy id names it; undefined if none. */
function matchedRule(policy: AuthorizationConfig, r: AuthorizationRequest): string | undefined {
  const index = policy.rules.findIndex((rule) => ruleMatches(rule, r));
  return index < 0 ? undefined : `ns[${policy.namespace}]-policy[${policy.name}]-rule[${index}]`;
}

export function authorize(policies: readonly AuthorizationConfig[], workload: Workload, r: AuthorizationRequest): AuthorizationDecision {
  const applying = policies.filter((p) => selects(p, workload));
  let audited: string | undefined;
  for (const policy of applying) {
    if (policy.action === 'AUDIT') audited ??= matchedRule(policy, r);
  }
  for (const policy of applying) {
    if (policy.action !== 'DENY') continue;
    const id = matchedRule(policy, r);
    if (id) return { allowed: false, policy: id, origin: policy.origin };
  }
  const allows = applying.filter((p) => p.action === 'ALLOW');
  if (allows.length === 0 || allows.some((p) => matchedRule(p, r) !== undefined)) return { allowed: true, audited };
  return { allowed: false, policy: 'none', origin: allows[0]!.origin };
}

/**
 * Istio's automatic mutual TLS, from a client's side: a DestinationRule's tls.mode
 * decides when it is given; otherwise mutual TLS goes to pods with a sidecar whose
 * PeerAuthentication does not DISABLE it, and plaintext to everything else.
 */
export function usesMutualTls(
  drMode: 'ISTIO_MUTUAL' | 'DISABLE' | undefined, peerAuthentications: readonly PeerAuthenticationConfig[],
  destination: Workload & { sidecar: boolean }, port: number,
): boolean {
  if (drMode === 'DISABLE') return false;
  if (drMode === 'ISTIO_MUTUAL') return true;
  return destination.sidecar && mtlsModeFor(peerAuthentications, destination, port) !== 'DISABLE';
}
