// The one HTTP server mesh-sim itself runs during a mesh: the control plane's long polls
// and certificate authority, the collector's OTLP endpoint, and proxies' load reports,
// on 127.0.0.1 (and, for Docker, on the run's network gateway address, which only this
// host and its containers can reach). Only
// what mesh-sim started may use it: every request carries the run's secret, which
// mesh-sim hands over in the environment of what it starts, never on a command line.

import http from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { handleControl } from '../control/server.js';
import type { ControlPlane, InstanceIdentity } from '../control/plane.js';
import { handleTraces } from '../telemetry/collector.js';
import { handleCertificate } from '../control/certificates.js';
import { CertificateAuthority } from '../identity/ca.js';
import type { Span } from '../telemetry/span.js';
import { handleLoad } from '../self-load/endpoint.js';

/** How a request to the hub names the run's secret: `Authorization: Bearer SECRET`, as OTLP exporters send headers. */
export function authorization(secret: string): string {
  return `Bearer ${secret}`;
}

export class Hub {
  private readonly servers: http.Server[] = [];
  port = 0;
  /** The run's secret: a sidecar, workload or app's SDK presents it with every request. */
  readonly secret = randomBytes(24).toString('base64url');
  private readonly expected = Buffer.from(authorization(this.secret));
  private authority: Promise<CertificateAuthority> | undefined;
  /** The run's certificate authority, made on first use: its root is new for every run. */
  readonly ca = (): Promise<CertificateAuthority> => (this.authority ??= CertificateAuthority.create());

  constructor(
    private readonly plane: ControlPlane,
    private readonly identities: (instance: string) => InstanceIdentity | undefined,
    private readonly onSpans: (spans: Span[]) => void,
    /** How busy a proxy in a process of its own was (Docker's sidecars report here). */
    private readonly onLoad: (source: string, busy: number) => void = () => {},
  ) {}

  private authorized(req: http.IncomingMessage): boolean {
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === this.expected.length && timingSafeEqual(given, this.expected);
  }

  private handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!this.authorized(req)) {
      req.resume();
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' }).end('mesh-sim: this run\'s control plane and collector take requests only from what the run started\n');
      return;
    }
    if (handleTraces(req, res, this.onSpans)) return;
    if (handleCertificate(this.ca, this.identities, req, res)) return;
    if (handleControl(this.plane, this.identities, req, res)) return;
    if (handleLoad((id) => this.identities(id) !== undefined, this.onLoad, req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain' }).end('mesh-sim: POST spans to /v1/traces\n');
  };

  /** Listens on every host, on one port number: the first host picks it. */
  async listen(hosts: string[], port = 0): Promise<number> {
    for (const host of hosts) {
      const server = http.createServer(this.handler);
      server.keepAliveTimeout = 65_000;
      server.requestTimeout = 0;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.port || port, host, () => resolve());
      });
      this.port = (server.address() as AddressInfo).port;
      this.servers.push(server);
    }
    return this.port;
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    })));
  }
}
