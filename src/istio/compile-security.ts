// From PeerAuthentication and AuthorizationPolicy to the policies sidecars enforce
// (src/policy/security.ts), as istiod turns them into listener filter chains and RBAC
// filters: Istio's scopes (a selector's workloads, the namespace, or the whole mesh from
// the root namespace), `serviceAccounts` as the principals they stand for, and the
// checks istioctl analyze makes: a selector that selects no pod, a second policy where
// Istio takes only the oldest.

import type { ServiceSpec } from '../scenario/model.js';
import type { AuthorizationConfig, AuthorizationRule, MtlsMode, PeerAuthenticationConfig, SourceRule } from '../policy/security.js';
import { ROOT_NAMESPACE } from '../policy/security.js';
import { principalOf, spiffeId } from '../identity/spiffe.js';
import { podLabelsOf } from '../identity/labels.js';
import { describeResource, type IstioResource } from './resources.js';
import type { RawAuthorizationPolicy, RawMtlsMode, RawPeerAuthentication, RawSource } from './security-schema.js';

const mode = (raw: RawMtlsMode | undefined): MtlsMode | undefined => (raw === undefined || raw === 'UNSET' ? undefined : raw);

/** Warns when a selector picks no pod of the scenario's: a policy that does nothing is a likely typo. */
function checkSelector(resource: IstioResource, selector: Record<string, string> | undefined, services: readonly ServiceSpec[]): void {
  if (!selector) return;
  const pods = services.flatMap((s) => s.versions.map((v) => podLabelsOf(s.name, v.name)));
  if (!pods.some((labels) => Object.entries(selector).every(([k, v]) => labels[k] === v))) {
    const shown = Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',');
    resource.report.warn(['spec', 'selector', 'matchLabels'], `selects no pod: no service has the labels ${shown} (pods carry app and version)`);
  }
}

export function compilePeerAuthentications(resources: readonly IstioResource[], services: readonly ServiceSpec[]): PeerAuthenticationConfig[] {
  const out: PeerAuthenticationConfig[] = [];
  const wide = new Map<string, IstioResource>();
  for (const resource of resources) {
    if (resource.kind !== 'PeerAuthentication') continue;
    const spec = resource.spec as RawPeerAuthentication;
    const selector = spec.selector?.matchLabels && Object.keys(spec.selector.matchLabels).length > 0 ? spec.selector.matchLabels : undefined;
    checkSelector(resource, selector, services);
    if (!selector) {
      const earlier = wide.get(resource.namespace);
      if (earlier) {
        const scope = resource.namespace === ROOT_NAMESPACE ? 'mesh-wide' : `namespace-wide in ${resource.namespace}`;
        resource.report.warn(['metadata', 'name'], `${describeResource(earlier)} (${earlier.origin.where}) is already ${scope}: Istio uses only the oldest, so this one does nothing`);
        continue;
      }
      wide.set(resource.namespace, resource);
    }
    out.push({
      origin: resource.origin,
      namespace: resource.namespace,
      name: resource.name,
      selector,
      mode: mode(spec.mtls?.mode),
      ports: Object.fromEntries(Object.entries(spec.portLevelMtls ?? {}).map(([port, m]) => [port, mode(m.mode)])),
    });
  }
  return out;
}

/** `serviceAccounts: [ns/sa]` is shorthand for the principal `cluster.local/ns/NS/sa/SA`. */
function source(raw: RawSource): SourceRule {
  const account = (a: string) => {
    const [ns, sa] = a.includes('/') ? a.split('/', 2) : [undefined, a];
    return ns === undefined ? `*/sa/${sa}` : principalOf(spiffeId(ns, sa!));
  };
  const principals = [...(raw.principals ?? []), ...(raw.serviceAccounts ?? []).map(account)];
  const notPrincipals = [...(raw.notPrincipals ?? []), ...(raw.notServiceAccounts ?? []).map(account)];
  return {
    ...(principals.length > 0 || raw.principals ? { principals } : {}),
    ...(notPrincipals.length > 0 ? { notPrincipals } : {}),
    ...(raw.namespaces ? { namespaces: raw.namespaces } : {}),
    ...(raw.notNamespaces ? { notNamespaces: raw.notNamespaces } : {}),
  };
}

export function compileAuthorizationPolicies(resources: readonly IstioResource[], services: readonly ServiceSpec[]): AuthorizationConfig[] {
  const out: AuthorizationConfig[] = [];
  for (const resource of resources) {
    if (resource.kind !== 'AuthorizationPolicy') continue;
    const spec = resource.spec as RawAuthorizationPolicy;
    const selector = spec.selector?.matchLabels && Object.keys(spec.selector.matchLabels).length > 0 ? spec.selector.matchLabels : undefined;
    checkSelector(resource, selector, services);
    const rules: AuthorizationRule[] = (spec.rules ?? []).map((rule) => ({
      from: rule.from?.map((f) => source(f.source)),
      to: rule.to?.map((t) => t.operation),
      when: rule.when ?? [],
    }));
    const action = spec.action ?? 'ALLOW';
    if (action === 'DENY' && rules.length === 0) {
      resource.report.warn(['spec'], 'a DENY policy without rules denies nothing (Istio: "a DENY policy with no rules never matches")');
    }
    out.push({ origin: resource.origin, namespace: resource.namespace, name: resource.name, selector, action, rules });
  }
  return out;
}
