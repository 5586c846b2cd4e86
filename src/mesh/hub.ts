// The one HTTP server mesh-sim itself runs during a mesh: the control plane's long polls
// and certificate authority, the collector's OTLP endpoints (OTLP/HTTP, and OTLP/gRPC
// over HTTP/2 on the same port), and proxies' load reports, on 127.0.0.1 (and, for
// Docker, on the run's network gateway address, which only this host and its
// containers can reach). Only what mesh-sim started may use it: every request carries
// the run's secret, which mesh-sim hands over in the environment of what it starts,
// never on a command line.

import http from 'node:http';
import http2 from 'node:http2';
import net, { type Socket } from 'node:net';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { handleControl } from '../control/server.js';
import type { ControlPlane, InstanceIdentity } from '../control/plane.js';
import { handleTraces } from '../telemetry/collector.js';
import { handleCertificate } from '../control/certificates.js';
import { CertificateAuthority } from '../identity/ca.js';
import type { Span } from '../telemetry/span.js';
import { handleLoad } from '../self-load/endpoint.js';
import { handleGrpcExport } from '../telemetry/collector-grpc.js';
import { dispatchByVersion } from './both-http-versions.js';
import { authorization } from '../control/http.js';

export class Hub {
  private readonly servers: net.Server[] = [];
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

  /** Whether an `authorization` header carries the run's secret (compared in constant time). */
  private presented(authorization: string | undefined): boolean {
    const given = Buffer.from(authorization ?? '');
    return given.length === this.expected.length && timingSafeEqual(given, this.expected);
  }

  private handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!this.presented(req.headers.authorization)) {
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

  /** HTTP/1.1: the control plane, the CA, OTLP/HTTP, load reports. */
  private readonly web = Object.assign(http.createServer(this.handler), { keepAliveTimeout: 65_000, requestTimeout: 0 });
  /** Cleartext HTTP/2 on the same port: OTLP over gRPC. */
  private readonly h2 = http2.createServer().on('stream', (stream, headers) =>
    handleGrpcExport(stream, headers, this.presented(headers.authorization), this.onSpans));
  private readonly sockets = new Set<Socket>();

  /** Listens on every host, on one port number: the first host picks it. */
  async listen(hosts: string[], port = 0): Promise<number> {
    const dispatch = dispatchByVersion(this.web, this.h2);
    for (const host of hosts) {
      const server = net.createServer((socket) => {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
        dispatch(socket);
      });
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
    const closed = Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}
