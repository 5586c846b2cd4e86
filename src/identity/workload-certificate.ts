// A sidecar's side of identity, as istio-agent does it: make a key that never leaves the
// pod, send a certificate signing request for the pod's SPIFFE ID to the control plane
// (with the run's secret), and get back the certificate and the mesh's root.

import { ALGORITHM, generateKeys, privateKeyPem, x509 } from './x509.js';
import { postJson } from '../control/http.js';

export interface WorkloadCertificate {
  spiffe: string;
  /** PKCS#8 PEM. */
  key: string;
  certificate: string;
  root: string;
  notAfterMs: number;
}

export async function signingRequest(spiffe: string): Promise<{ csr: string; key: string }> {
  const keys = await generateKeys();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffe }])],
  });
  return { csr: csr.toString('pem'), key: await privateKeyPem(keys.privateKey) };
}

/** Asks the control plane at `controlUrl` to certify this instance as `spiffe`. */
export async function requestCertificate(controlUrl: string, secret: string, instance: string, spiffe: string): Promise<WorkloadCertificate> {
  const { csr, key } = await signingRequest(spiffe);
  const { status, json } = await postJson(`${controlUrl}/v1/certificate/${encodeURIComponent(instance)}`, secret, { csr }, 10_000);
  const body = json as { certificate?: string; root?: string; notAfter?: string; error?: string };
  if (status !== 200 || typeof body.certificate !== 'string' || typeof body.root !== 'string') {
    throw new Error(`the control plane refused ${instance}'s certificate: ${body.error ?? `HTTP ${status}`}`);
  }
  return { spiffe, key, certificate: body.certificate, root: body.root, notAfterMs: Date.parse(body.notAfter ?? '') || Date.now() + 3_600_000 };
}
