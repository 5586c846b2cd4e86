// The mesh's certificate authority, as istiod runs one: a self-signed root made for the
// run, which signs each sidecar's certificate signing request with the identity of the
// pod that asked (never the identity the request claims: a CSR naming another
// identity is refused). Certificates are short-lived, as Istio's are.

import { randomBytes } from 'node:crypto';
import { ALGORITHM, generateKeys, x509, type KeyPair } from './x509.js';
import { TRUST_DOMAIN } from './spiffe.js';

/** Istio's default workload certificate lifetime. */
export const WORKLOAD_CERT_TTL_MS = 24 * 60 * 60 * 1000;
const ROOT_TTL_MS = 10 * 365 * 24 * 60 * 60 * 1000;
/** Clocks of containers may lag the host's a little: certificates are valid from a minute ago. */
const CLOCK_SKEW_MS = 60_000;

export class CertificateRequestError extends Error {}

export interface IssuedCertificate {
  certificate: string;
  root: string;
  notAfter: string;
}

export class CertificateAuthority {
  private constructor(
    private readonly keys: KeyPair,
    private readonly rootCertificate: x509.X509Certificate,
  ) {}

  static async create(now = Date.now()): Promise<CertificateAuthority> {
    const keys = await generateKeys();
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `O=${TRUST_DOMAIN}`,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(now + ROOT_TTL_MS),
      keys,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new CertificateAuthority(keys, root);
  }

  /** The root every sidecar trusts (what istiod puts in each pod's istio-ca-root-cert). */
  get rootPem(): string {
    return this.rootCertificate.toString('pem');
  }

  /** Signs `csrPem` for `spiffe`; refuses a request that is malformed, badly signed, or names another identity. */
  async sign(csrPem: string, spiffe: string, ttlMs = WORKLOAD_CERT_TTL_MS, now = Date.now()): Promise<IssuedCertificate> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch {
      throw new CertificateRequestError('not a PEM certificate signing request');
    }
    if (!(await csr.verify())) throw new CertificateRequestError('the request\'s signature does not match its key');
    const san = csr.extensions.find((e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension);
    const asked = san?.names.items.filter((n) => n.type === 'url').map((n) => n.value) ?? [];
    if (asked.some((uri) => uri !== spiffe)) throw new CertificateRequestError(`the request names ${asked.join(', ')}, but this pod is ${spiffe}`);
    const notAfter = new Date(now + ttlMs);
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: '',
      issuer: this.rootCertificate.subject,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter,
      signingKey: this.keys.privateKey,
      publicKey: csr.publicKey,
      signingAlgorithm: ALGORITHM,
      extensions: [
        // Istio's workload certificates: the identity in a critical URI SAN, no subject.
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffe }], true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.BasicConstraintsExtension(false, undefined, true),
        await x509.AuthorityKeyIdentifierExtension.create(this.keys.publicKey),
      ],
    });
    return { certificate: certificate.toString('pem'), root: this.rootPem, notAfter: notAfter.toISOString() };
  }
}

function serial(): string {
  // A positive 16-byte serial, as RFC 5280 asks.
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f;
  return bytes.toString('hex');
}
