// The control plane's certificate endpoint (istiod's CA service): POST
// /v1/certificate/{instance} with `{csr}`; the answer is the certificate for that
// instance's identity and the mesh's root. The caller already proved it is part of the
// run (the hub checks the run's secret); the identity comes from the instance, not from
// what the request asks for.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { CertificateRequestError, type CertificateAuthority } from '../identity/ca.js';
import { workloadSpiffeId } from '../identity/spiffe.js';
import type { InstanceIdentity } from './plane.js';
import { NAMESPACE } from './protocol.js';
import { readBounded, sendJson } from './http.js';

const MAX_CSR_BYTES = 16 * 1024;

/** Handles POST /v1/certificate/{instance}; false for other paths. */
export function handleCertificate(
  ca: () => Promise<CertificateAuthority>,
  identities: (instance: string) => InstanceIdentity | undefined,
  req: IncomingMessage,
  res: ServerResponse,
): boolean {
  const match = /^\/v1\/certificate\/([A-Za-z0-9._-]+)$/.exec((req.url ?? '').split('?')[0]!);
  if (!match) return false;
  if (req.method !== 'POST') {
    req.resume();
    sendJson(res, 405, { error: 'POST a certificate signing request here' });
    return true;
  }
  const identity = identities(match[1]!);
  void readBounded(req, MAX_CSR_BYTES).then(async ({ body, tooLarge }) => {
    if (!identity) return sendJson(res, 404, { error: `no instance ${match[1]} in this mesh` });
    if (tooLarge) return sendJson(res, 413, { error: `a signing request is at most ${MAX_CSR_BYTES} bytes` });
    try {
      const { csr } = JSON.parse(body.toString('utf8')) as { csr?: unknown };
      if (typeof csr !== 'string') return sendJson(res, 400, { error: 'expected {"csr": "-----BEGIN CERTIFICATE REQUEST-----..."}' });
      const issued = await (await ca()).sign(csr, workloadSpiffeId(identity.service, NAMESPACE, identity.serviceAccount));
      sendJson(res, 200, issued);
    } catch (error) {
      const known = error instanceof CertificateRequestError || error instanceof SyntaxError;
      sendJson(res, known ? 400 : 500, { error: (error as Error).message });
    }
  }, () => res.destroy());
  return true;
}
