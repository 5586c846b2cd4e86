// The one HTTP server mesh-sim itself runs during a mesh: the control plane's long polls
// and the collector's OTLP endpoint, on 127.0.0.1 (and, for Docker, on the run's
// network gateway address, which only this host and its containers can reach).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleControl } from '../control/server.js';
import type { ControlPlane, InstanceIdentity } from '../control/plane.js';
import { handleTraces } from '../telemetry/collector.js';
import type { Span } from '../telemetry/span.js';

export class Hub {
  private readonly servers: http.Server[] = [];
  port = 0;

  constructor(
    private readonly plane: ControlPlane,
    private readonly identities: (instance: string) => InstanceIdentity | undefined,
    private readonly onSpans: (spans: Span[]) => void,
  ) {}

  private handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (handleTraces(req, res, this.onSpans)) return;
    if (handleControl(this.plane, this.identities, req, res)) return;
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
