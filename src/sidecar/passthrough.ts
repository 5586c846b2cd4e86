// What stands in for a sidecar in a pod outside the mesh (`sidecar: false`): the pod's
// network and kube-proxy, nothing more. Callers reach the app unchanged, but for the
// hop-by-hop headers: a request crosses two connections here where kube-proxy's is one,
// and each frames its own. The app's calls go to an instance of the service they name,
// round robin, in plaintext, with no routing rules, retries, identity or telemetry (a
// real pod without Envoy has none). A connection the other end resets is reset here
// too, as the app would see it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { serviceFromAuthority, type SidecarSnapshot } from '../control/protocol.js';
import { destinationOf } from './outbound.js';
import { loopbackAgent } from '../loopback/pod-loopback.js';
import { relayRequest } from './upstream-http.js';

export class Passthrough {
  // Its own app over the pod's loopback (in memory on a node); other pods over TCP.
  private readonly agent = loopbackAgent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256 });
  private next = 0;

  constructor(
    private readonly snapshot: () => SidecarSnapshot | undefined,
    private readonly app: { host: string; port: number } | undefined,
  ) {}

  /** To the app in this pod, as it came. */
  inbound(req: IncomingMessage, res: ServerResponse): void {
    if (!this.app) return void res.destroy();
    relayRequest(req, res, { ...this.app, agent: this.agent }, () => res.destroy());
  }

  /** From the app, to an instance of the service its Host names (kube-proxy's round robin). */
  outbound(req: IncomingMessage, res: ServerResponse): void {
    const { authority, path } = destinationOf(req);
    const endpoints = this.snapshot()?.services[serviceFromAuthority(authority)]?.endpoints ?? [];
    if (endpoints.length === 0) {
      // No such Service, or no ready pod: the connection is refused, as a ClusterIP with no endpoints refuses it.
      res.destroy();
      return;
    }
    const endpoint = endpoints[this.next++ % endpoints.length]!;
    relayRequest(req, res, { host: endpoint.host, port: endpoint.port, agent: this.agent, path }, () => res.destroy());
  }

  close(): void {
    this.agent.destroy();
  }
}
