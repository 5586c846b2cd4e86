// Workload identity as Istio names it: a SPIFFE ID per service account
// (`spiffe://cluster.local/ns/NAMESPACE/sa/ACCOUNT`), the principal that policies and
// telemetry use (the same without `spiffe://`), and the identity of each pod mesh-sim
// runs (the service's own account; the gateway's, in istio-system).

import { GATEWAY } from '../control/protocol.js';

export const TRUST_DOMAIN = 'cluster.local';
const SCHEME = 'spiffe://';
/** The ingress gateway's service account, as Istio's installation names it. */
export const GATEWAY_SERVICE_ACCOUNT = 'istio-ingressgateway-service-account';

export function spiffeId(namespace: string, serviceAccount: string): string {
  return `${SCHEME}${TRUST_DOMAIN}/ns/${namespace}/sa/${serviceAccount}`;
}

/** The service account a pod of `service` runs as unless its scenario names one: the service's own name; the gateway's as Istio installs it. */
export function serviceAccountOf(service: string): string {
  return service === GATEWAY.name ? GATEWAY_SERVICE_ACCOUNT : service;
}

/** The SPIFFE ID of a pod of `service` running as `account` (its default: serviceAccountOf); the gateway's lives in istio-system. */
export function workloadSpiffeId(service: string, namespace: string, account?: string): string {
  return spiffeId(service === GATEWAY.name ? GATEWAY.namespace : namespace, account ?? serviceAccountOf(service));
}

/** `cluster.local/ns/default/sa/reviews`: what AuthorizationPolicy's `principals` match. */
export function principalOf(spiffe: string): string {
  return spiffe.startsWith(SCHEME) ? spiffe.slice(SCHEME.length) : spiffe;
}

/** The namespace a principal's account lives in (`source.namespace`), or undefined. */
export function namespaceOfPrincipal(principal: string): string | undefined {
  return /^[^/]+\/ns\/([^/]+)\/sa\/[^/]+$/.exec(principal)?.[1];
}

/** The SPIFFE ID in a certificate's subjectAltName (node:tls's `URI:spiffe://..., DNS:...` form). */
export function spiffeFromAltNames(altNames: string | undefined): string | undefined {
  if (!altNames) return undefined;
  for (const part of altNames.split(',')) {
    const name = part.trim();
    if (name.startsWith(`URI:${SCHEME}`)) return name.slice('URI:'.length);
  }
  return undefined;
}
