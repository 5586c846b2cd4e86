// Mutual TLS for real, with node:tls on the other side: a sidecar presents a
// certificate carrying its SPIFFE ID, signed by the run's CA; under STRICT it takes
// only clients with a certificate from that CA and resets plaintext; an
// AuthorizationPolicy's denial is Envoy's 403; and the access log carries Istio's 24
// default fields with their values.

import test from 'ava';
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadText, startMesh, sleep, type TestMesh } from '../helpers/mesh.js';
import { signingRequest } from '../../src/identity/workload-certificate.js';
import { workloadSpiffeId } from '../../src/identity/spiffe.js';
import { ISTIO_ACCESS_LOG_FIELDS } from '../../src/telemetry/access-log.js';
import { findOnPath } from '../../src/runtime/which.js';

const scenario = `
name: strict
services:
  api: {port: 9080}
istio:
  - apiVersion: security.istio.io/v1
    kind: PeerAuthentication
    metadata: {name: default}
    spec: {mtls: {mode: STRICT}}
  - apiVersion: security.istio.io/v1beta1
    kind: AuthorizationPolicy
    metadata: {name: deny-probe}
    spec:
      selector: {matchLabels: {app: api}}
      action: DENY
      rules: [{when: [{key: "request.headers[x-probe]", values: ["deny"]}]}]
`;

interface Client {
  key: string;
  cert: string;
  ca: string;
}

async function clientCertificate(mesh: TestMesh, service: string): Promise<Client> {
  const ca = await mesh.session.certificateAuthority();
  const spiffe = workloadSpiffeId(service, 'default');
  const { csr, key } = await signingRequest(spiffe);
  const issued = await ca.sign(csr, spiffe);
  return { key, cert: issued.certificate, ca: issued.root };
}

/** One HTTP/1.1 request on a socket; resolves with the whole answer, or rejects with the socket's error. */
function exchange(socket: net.Socket, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    socket.on('data', (chunk) => (data += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(data));
    socket.write(request);
  });
}

const get = (extra = '') => `GET /probe HTTP/1.1\r\nHost: api:9080\r\nUser-Agent: probe/1\r\nX-Request-Id: probe-1\r\nX-Forwarded-For: 10.1.2.3\r\n${extra}Connection: close\r\n\r\n`;

test.serial('a sidecar presents its SPIFFE ID under the run\'s root; STRICT takes certified clients only and resets plaintext; a denial is RBAC\'s 403', async (t) => {
  const mesh = await startMesh(await loadText(scenario));
  t.teardown(() => mesh.session.shutdown());
  const endpoint = mesh.session.instances.get('api-v1-0')!.started!.endpoint;
  const client = await clientCertificate(mesh, 'web');
  const root = new X509Certificate(client.ca);
  const sni = 'outbound_.9080_._.api.default.svc.cluster.local';

  // A certified client: the handshake shows the server's identity, signed by the run's CA.
  const secure = tls.connect({ host: endpoint.host, port: endpoint.port, ...client, servername: sni, checkServerIdentity: () => undefined });
  await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
  const presented = new X509Certificate(secure.getPeerCertificate().raw);
  t.is(presented.subjectAltName, 'URI:spiffe://cluster.local/ns/default/sa/api');
  t.true(presented.checkIssued(root) && presented.verify(root.publicKey), 'signed by the run\'s CA');
  t.true(secure.authorized, 'the client trusts it through the mesh root alone');
  const answer = await exchange(secure, get());
  t.regex(answer, /^HTTP\/1\.1 200 /);

  // Without a certificate, no handshake; in plaintext, a reset, as Envoy resets it.
  const anonymous = tls.connect({ host: endpoint.host, port: endpoint.port, ca: client.ca, checkServerIdentity: () => undefined });
  const refused = await exchange(anonymous, get()).then((text) => text, (error: Error) => error.message);
  t.notRegex(refused, /^HTTP/, `no answer without a client certificate: ${refused}`);
  const plaintext = net.connect(endpoint.port, endpoint.host);
  await t.throwsAsync(exchange(plaintext, get()), { code: 'ECONNRESET' });

  // A DENY policy that matches: 403, "RBAC: access denied", no flag, the policy in the details.
  const denied = tls.connect({ host: endpoint.host, port: endpoint.port, ...client, checkServerIdentity: () => undefined });
  const deniedAnswer = await exchange(denied, get('X-Probe: deny\r\n'));
  t.regex(deniedAnswer, /^HTTP\/1\.1 403 /);
  t.true(deniedAnswer.endsWith('RBAC: access denied\n'));

  if (findOnPath('openssl')) {
    const dir = mkdtempSync(join(tmpdir(), 'mesh-sim-openssl-'));
    writeFileSync(join(dir, 'key.pem'), client.key);
    writeFileSync(join(dir, 'cert.pem'), client.cert);
    const out = execFileSync('openssl', ['s_client', '-connect', `${endpoint.host}:${endpoint.port}`, '-cert', join(dir, 'cert.pem'), '-key', join(dir, 'key.pem'), '-showcerts'], { input: '', timeout: 10_000, stdio: ['pipe', 'pipe', 'ignore'] }).toString();
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out)?.[0];
    t.truthy(pem, 'openssl s_client shows the certificate');
    t.is(new X509Certificate(pem!).subjectAltName, 'URI:spiffe://cluster.local/ns/default/sa/api');
  }

  await mesh.session.flushTelemetry();
  await sleep(200);
  const inbound = mesh.access.filter((e) => e.reporter === 'destination' && e.path === '/probe');
  t.is(inbound.length, 2, 'the two answered requests are logged; refused connections and openssl\'s handshake carried none');
  const ok = inbound.find((e) => e.response_code === 200)!;
  for (const field of ISTIO_ACCESS_LOG_FIELDS) t.true(field in ok, `Istio's field ${field}`);
  t.like(ok, {
    route_name: 'default', method: 'GET', path: '/probe', protocol: 'HTTP/1.1', response_code: 200, response_flags: '-',
    response_code_details: 'via_upstream', connection_termination_details: null, upstream_transport_failure_reason: null,
    bytes_received: 0, x_forwarded_for: '10.1.2.3', user_agent: 'probe/1', request_id: 'probe-1', authority: 'api:9080',
    upstream_cluster: 'inbound|9080||', downstream_local_address: `${endpoint.host}:${endpoint.port}`, requested_server_name: sni,
  });
  t.regex(ok.start_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.true(typeof ok.duration === 'number' && typeof ok.bytes_sent === 'number' && ok.bytes_sent > 0);
  t.regex(ok.upstream_service_time!, /^\d+$/, 'a header value: text');
  t.regex(ok.upstream_host!, /^127\.0\.0\.1:\d+$/);
  // Istio's sidecar reaches its app from 127.0.0.6 (InboundPassthroughBindIpv4), as Linux lets it.
  t.regex(ok.upstream_local_address!, process.platform === 'linux' ? /^127\.0\.0\.6:\d+$/ : /^127\.0\.0\.[16]:\d+$/);
  t.regex(ok.downstream_remote_address!, /^127\.0\.0\.1:\d+$/);
  const no = inbound.find((e) => e.response_code === 403)!;
  t.like(no, { response_flags: '-', response_code_details: 'rbac_access_denied_matched_policy[ns[default]-policy[deny-probe]-rule[0]]', upstream_host: null });
});
