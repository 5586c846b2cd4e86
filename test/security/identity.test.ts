// Workload identity: the CA signs what a pod asks for only as that pod, certificates
// carry Istio's SPIFFE IDs, and SPIFFE IDs become the principals policies match.

import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { CertificateAuthority, CertificateRequestError } from '../../src/identity/ca.js';
import { requestCertificate, signingRequest } from '../../src/identity/workload-certificate.js';
import { Hub } from '../../src/mesh/hub.js';
import { ControlPlane } from '../../src/control/plane.js';
import { emptyMeshConfig } from '../../src/policy/config.js';
import { namespaceOfPrincipal, principalOf, spiffeFromAltNames, spiffeId, workloadSpiffeId } from '../../src/identity/spiffe.js';

test('the CA signs a pod\'s request with its SPIFFE ID in a URI SAN, short-lived, under the run\'s root', async (t) => {
  const ca = await CertificateAuthority.create();
  const spiffe = workloadSpiffeId('reviews', 'default');
  t.is(spiffe, 'spiffe://cluster.local/ns/default/sa/reviews');
  const { csr } = await signingRequest(spiffe);
  const issued = await ca.sign(csr, spiffe);
  const cert = new X509Certificate(issued.certificate);
  const root = new X509Certificate(ca.rootPem);
  t.is(cert.subjectAltName, `URI:${spiffe}`);
  t.true(cert.checkIssued(root));
  t.true(cert.verify(root.publicKey));
  t.true(root.ca);
  t.false(cert.ca);
  const lifetime = Date.parse(cert.validTo) - Date.now();
  t.true(lifetime > 23 * 3600_000 && lifetime <= 24 * 3600_000 + 1000, `valid for ${lifetime} ms: Istio's 24 h`);
  t.not((await CertificateAuthority.create()).rootPem, ca.rootPem, 'every run has its own root');
});

test('a request naming another identity, or not signed by its key, is refused', async (t) => {
  const ca = await CertificateAuthority.create();
  const { csr } = await signingRequest(workloadSpiffeId('ratings', 'default'));
  await t.throwsAsync(ca.sign(csr, workloadSpiffeId('reviews', 'default')), { instanceOf: CertificateRequestError, message: /names spiffe:\/\/cluster.local\/ns\/default\/sa\/ratings, but this pod is .*reviews/ });
  await t.throwsAsync(ca.sign('not a csr', workloadSpiffeId('reviews', 'default')), { instanceOf: CertificateRequestError });
  const lines = csr.trim().split('\n');
  const body = Buffer.from(lines.slice(1, -1).join(''), 'base64');
  body[body.length - 10]! ^= 0xff; // a bit of the signature flipped
  const tampered = `${lines[0]}\n${body.toString('base64')}\n${lines.at(-1)}\n`;
  await t.throwsAsync(ca.sign(tampered, workloadSpiffeId('ratings', 'default')), { instanceOf: CertificateRequestError });
});

test("a pod asks the hub for its certificate with the run's secret, and hears why when it is refused", async (t) => {
  const hub = new Hub(new ControlPlane({ services: [], config: emptyMeshConfig() }, 1), (instance) => (instance === 'reviews-v1-0'
    ? { instance, service: 'reviews', version: 'v1', serviceAccount: undefined, host: '127.0.0.1', port: 1 }
    : undefined), () => {});
  const url = `http://127.0.0.1:${await hub.listen(['127.0.0.1'])}`;
  t.teardown(() => hub.close());
  const spiffe = workloadSpiffeId('reviews', 'default');
  const issued = await requestCertificate(url, hub.secret, 'reviews-v1-0', spiffe);
  t.is(new X509Certificate(issued.certificate).subjectAltName, `URI:${spiffe}`);
  t.true(new X509Certificate(issued.certificate).checkIssued(new X509Certificate(issued.root)));
  t.true(issued.notAfterMs > Date.now() + 23 * 3600_000);
  await t.throwsAsync(requestCertificate(url, hub.secret, 'ratings-v1-0', workloadSpiffeId('ratings', 'default')), { message: /refused ratings-v1-0's certificate: no instance ratings-v1-0 in this mesh/ });
  await t.throwsAsync(requestCertificate(url, hub.secret, 'reviews-v1-0', workloadSpiffeId('ratings', 'default')), { message: /refused reviews-v1-0's certificate: .*names spiffe:\/\/cluster.local\/ns\/default\/sa\/ratings/ });
  await t.throwsAsync(requestCertificate(url, 'not-the-secret', 'reviews-v1-0', spiffe), { message: /refused reviews-v1-0's certificate: HTTP 401/ });
});

test('SPIFFE IDs, principals and namespaces as Istio writes them', (t) => {
  t.is(workloadSpiffeId('istio-ingressgateway', 'default'), 'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account');
  t.is(principalOf(spiffeId('default', 'productpage')), 'cluster.local/ns/default/sa/productpage');
  t.is(namespaceOfPrincipal('cluster.local/ns/foo/sa/sleep'), 'foo');
  t.is(namespaceOfPrincipal('nonsense'), undefined);
  t.is(spiffeFromAltNames('DNS:x.example, URI:spiffe://cluster.local/ns/default/sa/a'), 'spiffe://cluster.local/ns/default/sa/a');
  t.is(spiffeFromAltNames('DNS:x.example'), undefined);
});

test('a service runs as its own account unless it names one, as a Deployment\'s serviceAccountName; a bad name is refused at its line', async (t) => {
  const { errors, load, yaml } = await import('../helpers/scenario.js');
  const { planInstances } = await import('../../src/mesh/plan.js');
  const text = yaml`
    name: t
    services:
      productpage: {serviceAccount: bookinfo-productpage}
      details: {}
  `;
  const scenario = load(text).scenario;
  t.deepEqual(planInstances(scenario).map((p) => `${p.id}=${p.serviceAccount}`), ['productpage-v1-0=bookinfo-productpage', 'details-v1-0=details']);
  t.is(workloadSpiffeId('productpage', 'default', scenario.services[0]!.serviceAccount), 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage');
  t.deepEqual(errors(text.replace('bookinfo-productpage', 'Bookinfo_PP')), [
    "test.yaml:3:33: services.productpage.serviceAccount: a service account is a Kubernetes name (lowercase letters, digits, '-' and '.'), not `Bookinfo_PP`",
  ]);
});
