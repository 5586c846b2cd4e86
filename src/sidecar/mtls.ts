// A sidecar's mutual TLS material, as istio-agent keeps it for Envoy: the pod's
// certificate (asked of the control plane at start, renewed at half its life), the
// mesh's root, the server context the inbound listener hands each TLS connection, and
// the client options its upstream connections use, which check that the server is
// the service it should be (Istio verifies the server's SPIFFE ID, not a host name).

import tls, { type PeerCertificate } from 'node:tls';
import { requestCertificate, type WorkloadCertificate } from '../identity/workload-certificate.js';
import { spiffeFromAltNames, workloadSpiffeId } from '../identity/spiffe.js';
import type { SidecarBoot } from './boot.js';

const RETRY_MS = 10_000;
/** Lets clients resume TLS sessions with a server that asks for their certificate. */
const SESSION_CONTEXT = 'mesh-sim-inbound';

export interface ClientTlsOptions {
  /** The pod's certificate and key and the mesh's root, made once per certificate (not per connection). */
  secureContext: tls.SecureContext;
  servername: string;
  checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
}

function serverContextOf(material: WorkloadCertificate): tls.SecureContext {
  return tls.createSecureContext({ key: material.key, cert: material.certificate, ca: material.root, sessionIdContext: SESSION_CONTEXT });
}

function clientContextOf(material: WorkloadCertificate): tls.SecureContext {
  return tls.createSecureContext({ key: material.key, cert: material.certificate, ca: material.root });
}

export class SidecarTls {
  private material: WorkloadCertificate;
  private context: tls.SecureContext;
  private clientContext: tls.SecureContext;
  private timer: NodeJS.Timeout | undefined;
  /** Bumped on every renewal: whoever built connections with the old certificate builds new ones. */
  generation = 0;

  private constructor(material: WorkloadCertificate, private readonly fetch: () => Promise<WorkloadCertificate>) {
    this.material = material;
    this.context = serverContextOf(material);
    this.clientContext = clientContextOf(material);
    this.schedule();
  }

  /** Asks the control plane for this pod's certificate; `fetch` is how (tests give their own). */
  static async obtain(boot: SidecarBoot, fetch?: (spiffe: string) => Promise<WorkloadCertificate>): Promise<SidecarTls> {
    const spiffe = workloadSpiffeId(boot.service, boot.namespace, boot.serviceAccount);
    const get = fetch ? () => fetch(spiffe) : () => requestCertificate(boot.controlUrl, boot.controlSecret, boot.instance, spiffe);
    return new SidecarTls(await get(), get);
  }

  get spiffe(): string {
    return this.material.spiffe;
  }

  get certificate(): string {
    return this.material.certificate;
  }

  /** For the inbound listener: present our certificate, ask for the client's, trust the mesh's root. */
  serverContext(): tls.SecureContext {
    return this.context;
  }

  /** For upstream connections to pods of `service` running as `account`, whose SPIFFE ID the server must present; `sni` as Istio sets it. */
  clientOptions(service: string, namespace: string, sni: string, account?: string): ClientTlsOptions {
    const expected = workloadSpiffeId(service, namespace, account);
    return {
      secureContext: this.clientContext,
      servername: sni,
      checkServerIdentity: (_host, cert) => {
        const presented = spiffeFromAltNames(cert.subjectaltname);
        return presented === expected ? undefined : new Error(`the server presented ${presented ?? 'no SPIFFE ID'}, not ${expected}`);
      },
    };
  }

  private schedule(delayMs = Math.max(1000, (this.material.notAfterMs - Date.now()) / 2)): void {
    this.timer = setTimeout(() => {
      this.fetch().then((material) => {
        this.material = material;
        this.context = serverContextOf(material);
        this.clientContext = clientContextOf(material);
        this.generation++;
        this.schedule();
      }, () => this.schedule(RETRY_MS));
    }, Math.min(delayMs, 2 ** 31 - 1));
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
