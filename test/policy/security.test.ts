// PeerAuthentication's precedence and AuthorizationPolicy's evaluation order, as pure
// functions, against what Istio's docs say each combination does.

import test from 'ava';
import { authorize, istioValueMatches, mtlsModeFor, usesMutualTls, type AuthorizationConfig, type AuthorizationRequest, type PeerAuthenticationConfig } from '../../src/policy/security.js';

const origin = { kind: 'X', name: 'x', namespace: 'default', where: 'f:1' };
const pa = (namespace: string, mode: PeerAuthenticationConfig['mode'], selector?: Record<string, string>, ports: PeerAuthenticationConfig['ports'] = {}): PeerAuthenticationConfig =>
  ({ origin, namespace, name: 'p', selector, mode, ports });
const reviews = { namespace: 'default', labels: { app: 'reviews', version: 'v1' } };

test('PeerAuthentication: PERMISSIVE by default; workload over namespace over mesh; a port over its workload; UNSET inherits', (t) => {
  t.is(mtlsModeFor([], reviews, 9080), 'PERMISSIVE');
  t.is(mtlsModeFor([pa('istio-system', 'STRICT')], reviews, 9080), 'STRICT', 'mesh-wide, from the root namespace');
  t.is(mtlsModeFor([pa('istio-system', 'STRICT'), pa('default', 'PERMISSIVE')], reviews, 9080), 'PERMISSIVE');
  t.is(mtlsModeFor([pa('default', 'STRICT'), pa('default', 'DISABLE', { app: 'reviews' })], reviews, 9080), 'DISABLE');
  t.is(mtlsModeFor([pa('default', 'STRICT'), pa('default', 'DISABLE', { app: 'ratings' })], reviews, 9080), 'STRICT', 'a selector for another app');
  t.is(mtlsModeFor([pa('default', 'STRICT'), pa('default', undefined, { app: 'reviews' })], reviews, 9080), 'STRICT', 'UNSET inherits');
  t.is(mtlsModeFor([pa('default', 'STRICT', { app: 'reviews' }, { 9080: 'DISABLE' })], reviews, 9080), 'DISABLE');
  t.is(mtlsModeFor([pa('default', 'STRICT', { app: 'reviews' }, { 9090: 'DISABLE' })], reviews, 9080), 'STRICT');
  t.is(mtlsModeFor([pa('foo', 'STRICT')], reviews, 9080), 'PERMISSIVE', 'another namespace\'s policy');
});

test('automatic mTLS: to pods with a sidecar unless DISABLEd; a DestinationRule\'s tls.mode decides when given', (t) => {
  const to = { ...reviews, sidecar: true };
  t.true(usesMutualTls(undefined, [], to, 9080));
  t.false(usesMutualTls(undefined, [], { ...to, sidecar: false }, 9080), 'a pod outside the mesh gets plaintext');
  t.false(usesMutualTls(undefined, [pa('default', 'DISABLE')], to, 9080));
  t.false(usesMutualTls('DISABLE', [], to, 9080));
  t.true(usesMutualTls('ISTIO_MUTUAL', [], { ...to, sidecar: false }, 9080), 'forced, even where it cannot work');
});

const request = (over: Partial<AuthorizationRequest> = {}): AuthorizationRequest => ({
  principal: 'cluster.local/ns/default/sa/productpage', namespace: 'default', method: 'GET', path: '/reviews/1', host: 'reviews:9080', port: 9080, headers: {}, ...over,
});
const policy = (name: string, action: AuthorizationConfig['action'], rules: AuthorizationConfig['rules'], selector?: Record<string, string>, namespace = 'default'): AuthorizationConfig =>
  ({ origin: { ...origin, name }, namespace, name, selector, action, rules });

test('AuthorizationPolicy: no ALLOW policy allows all; an ALLOW policy allows only what a rule matches; spec {} allows nothing', (t) => {
  t.deepEqual(authorize([], reviews, request()), { allowed: true, audited: undefined });
  t.like(authorize([policy('allow-nothing', 'ALLOW', [])], reviews, request()), { allowed: false, policy: 'none' });
  t.like(authorize([policy('allow-all', 'ALLOW', [{ from: undefined, to: undefined, when: [] }])], reviews, request()), { allowed: true });
  const onlyPp = policy('pp', 'ALLOW', [{ from: [{ principals: ['cluster.local/ns/default/sa/productpage'] }], to: [{ methods: ['GET'] }], when: [] }]);
  t.like(authorize([onlyPp], reviews, request()), { allowed: true });
  t.like(authorize([onlyPp], reviews, request({ method: 'POST' })), { allowed: false, policy: 'none' });
  t.like(authorize([onlyPp], reviews, request({ principal: undefined, namespace: undefined })), { allowed: false }, 'plaintext has no principal');
  t.like(authorize([onlyPp], reviews, request({ principal: 'cluster.local/ns/default/sa/ratings' })), { allowed: false });
});

test('AuthorizationPolicy: a matching DENY wins over any ALLOW, named as Envoy names it; AUDIT decides nothing', (t) => {
  const deny = policy('deny-post', 'DENY', [{ from: undefined, to: [{ methods: ['GET'] }], when: [] }, { from: undefined, to: [{ methods: ['POST'] }], when: [] }]);
  const allowAll = policy('allow-all', 'ALLOW', [{ from: undefined, to: undefined, when: [] }]);
  t.like(authorize([allowAll, deny], reviews, request({ method: 'POST' })), { allowed: false, policy: 'ns[default]-policy[deny-post]-rule[1]' });
  t.like(authorize([allowAll, deny], reviews, request({ method: 'PUT' })), { allowed: true });
  const audit = policy('audit', 'AUDIT', [{ from: undefined, to: undefined, when: [] }]);
  t.like(authorize([audit], reviews, request()), { allowed: true, audited: 'ns[default]-policy[audit]-rule[0]' });
});

test('AuthorizationPolicy: selectors, namespaces, paths, hosts, not-fields and when conditions', (t) => {
  const forRatings = policy('r', 'ALLOW', [], { app: 'ratings' });
  t.like(authorize([forRatings], reviews, request()), { allowed: true }, 'a policy for another workload does not apply');
  const meshWide = policy('m', 'ALLOW', [], undefined, 'istio-system');
  t.like(authorize([meshWide], reviews, request()), { allowed: false }, 'a root-namespace policy applies to every workload');
  const rule = (r: Partial<AuthorizationConfig['rules'][number]>) => policy('p', 'ALLOW', [{ from: undefined, to: undefined, when: [], ...r }]);
  t.true(authorize([rule({ from: [{ namespaces: ['default'] }] })], reviews, request()).allowed);
  t.false(authorize([rule({ from: [{ notNamespaces: ['default'] }] })], reviews, request()).allowed);
  t.true(authorize([rule({ to: [{ paths: ['/reviews/*'] }] })], reviews, request()).allowed);
  t.false(authorize([rule({ to: [{ paths: ['/reviews/*'], notPaths: ['/reviews/1'] }] })], reviews, request()).allowed);
  t.true(authorize([rule({ to: [{ hosts: ['REVIEWS'] }] })], reviews, request()).allowed, 'hosts: case-insensitive, with or without the port');
  t.true(authorize([rule({ to: [{ ports: ['9080'] }] })], reviews, request()).allowed);
  const jason = rule({ when: [{ key: 'request.headers[end-user]', values: ['jason'] }] });
  t.true(authorize([jason], reviews, request({ headers: { 'end-user': 'jason' } })).allowed);
  t.false(authorize([jason], reviews, request({ headers: {} })).allowed);
  t.true(authorize([rule({ when: [{ key: 'source.principal', notValues: ['*/sa/ratings'] }] })], reviews, request()).allowed);
});

test('Istio\'s value matching: exact, prefix*, *suffix, and * for present', (t) => {
  t.true(istioValueMatches('/api/*', '/api/x'));
  t.true(istioValueMatches('*.svc', 'a.svc'));
  t.true(istioValueMatches('*', 'x'));
  t.false(istioValueMatches('*', ''));
  t.false(istioValueMatches('*', undefined));
  t.false(istioValueMatches('/api', '/api/x'));
});
