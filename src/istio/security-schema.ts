// Istio's security resources as Istio defines them (istio/api security v1, v1beta1):
// PeerAuthentication (which connections a workload accepts: mutual TLS, plaintext, or
// both) and AuthorizationPolicy (which requests it serves). Same conventions as
// schema.ts: Istio's names, "did you mean" for unknown keys, and an error that says so
// for every field mesh-sim cannot honour.

import { z } from 'zod';
import { cannotHonour, leaf, describe, strict, text } from '../scenario/fields.js';
import { didYouMean } from '../scenario/suggest.js';

const MTLS_MODES = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const;
export type RawMtlsMode = (typeof MTLS_MODES)[number];

const mtlsMode = leaf<RawMtlsMode>((v) => {
  if (typeof v === 'string' && (MTLS_MODES as readonly string[]).includes(v)) return { ok: v as RawMtlsMode };
  const hint = typeof v === 'string' ? didYouMean(v, MTLS_MODES) : '';
  return { error: `an mTLS mode is one of ${MTLS_MODES.join(', ')}, not ${describe(v)}${hint}` };
});

const labels = z.record(z.string(), text('a label value', 63));
const selector = strict({ matchLabels: labels.optional() });
const mtls = strict({ mode: mtlsMode.optional() });
const values = z.array(text('a value', 1000));

export const peerAuthenticationSpec = strict({
  selector: selector.optional(),
  mtls: mtls.optional(),
  portLevelMtls: z.record(z.string(), mtls).optional(),
}).transform((spec, ctx) => {
  for (const port of Object.keys(spec.portLevelMtls ?? {})) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1 || n > 65535) ctx.addIssue({ code: 'custom', message: `\`${port}\` is not a port number`, path: ['portLevelMtls', port] });
  }
  if (spec.portLevelMtls && !spec.selector?.matchLabels) {
    ctx.addIssue({ code: 'custom', message: 'Istio takes portLevelMtls only in a policy with a selector (a workload-wide policy)', path: ['portLevelMtls'] });
  }
  return spec;
});
export type RawPeerAuthentication = z.output<typeof peerAuthenticationSpec>;

const JWT = 'mesh-sim has no RequestAuthentication: requests carry no JWT principal';
const IPS = 'mesh-sim\'s pods all share one address, so an IP block tells nothing apart';

const source = strict({
  principals: values.optional(),
  notPrincipals: values.optional(),
  namespaces: values.optional(),
  notNamespaces: values.optional(),
  requestPrincipals: cannotHonour(JWT).optional(),
  notRequestPrincipals: cannotHonour(JWT).optional(),
  ipBlocks: cannotHonour(IPS).optional(),
  notIpBlocks: cannotHonour(IPS).optional(),
  remoteIpBlocks: cannotHonour(IPS).optional(),
  notRemoteIpBlocks: cannotHonour(IPS).optional(),
  serviceAccounts: values.optional(),
  notServiceAccounts: values.optional(),
});
export type RawSource = z.output<typeof source>;

const operation = strict({
  hosts: values.optional(),
  notHosts: values.optional(),
  ports: values.optional(),
  notPorts: values.optional(),
  methods: values.optional(),
  notMethods: values.optional(),
  paths: values.optional(),
  notPaths: values.optional(),
});
export type RawOperation = z.output<typeof operation>;

/** The `when` keys mesh-sim evaluates; the others Istio has need what mesh-sim does not simulate. */
export const CONDITION_KEYS = ['request.headers[NAME]', 'source.principal', 'source.namespace', 'destination.port'] as const;

const condition = strict({
  key: text('a condition key', 300),
  values: values.optional(),
  notValues: values.optional(),
}).transform((c, ctx) => {
  const known = /^request\.headers\[[^\]]+\]$/.test(c.key) || ['source.principal', 'source.namespace', 'destination.port'].includes(c.key);
  if (!known) {
    const why = c.key.startsWith('request.auth.') ? JWT : c.key.includes('ip') ? IPS : `mesh-sim evaluates ${CONDITION_KEYS.join(', ')}`;
    ctx.addIssue({ code: 'custom', message: `mesh-sim cannot honour condition key \`${c.key}\`: ${why}`, path: ['key'] });
  }
  if (c.values === undefined && c.notValues === undefined) ctx.addIssue({ code: 'custom', message: 'a condition needs values or notValues', path: ['key'] });
  return c;
});
export type RawCondition = z.output<typeof condition>;

const rule = strict({
  from: z.array(strict({ source })).optional(),
  to: z.array(strict({ operation })).optional(),
  when: z.array(condition).optional(),
});
export type RawAuthorizationRule = z.output<typeof rule>;

const ACTIONS = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'] as const;
const action = leaf<'ALLOW' | 'DENY' | 'AUDIT'>((v) => {
  if (v === 'CUSTOM') return { error: 'mesh-sim cannot honour action CUSTOM: it has no external authorizer' };
  if (v === 'ALLOW' || v === 'DENY' || v === 'AUDIT') return { ok: v };
  const hint = typeof v === 'string' ? didYouMean(v, ACTIONS) : '';
  return { error: `an action is one of ALLOW, DENY, AUDIT, not ${describe(v)}${hint}` };
});

export const authorizationPolicySpec = strict({
  selector: selector.optional(),
  targetRef: cannotHonour('mesh-sim has no Gateway or waypoint to target; use selector').optional(),
  targetRefs: cannotHonour('mesh-sim has no Gateway or waypoint to target; use selector').optional(),
  rules: z.array(rule).optional(),
  action: action.optional(),
  provider: cannotHonour('it has no external authorizer').optional(),
});
export type RawAuthorizationPolicy = z.output<typeof authorizationPolicySpec>;
