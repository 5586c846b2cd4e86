// Envoy's tcp_proxy on the outbound side, for a tcp service. A client names its TCP
// destination with a CONNECT on the outbound listener (how an HTTP proxy tunnels TCP;
// mesh-sim has no iptables to capture the original destination). The connection takes
// the first of the host's VirtualService tcp routes whose port matches (Istio's default
// route otherwise), a weighted destination and an endpoint drawn from the seed and the
// connection's identity, and is piped to that pod's sidecar: over mutual TLS with
// Istio's in-band peer metadata exchange, or plaintext. Failures before the tunnel opens
// are answered once, through the sidecar's one local-reply table.

import type { IncomingMessage } from 'node:http';
import type net from 'node:net';
import { HEADER, serviceFromAuthority, type Endpoint } from '../control/protocol.js';
import { unit } from '../policy/decide.js';
import { pickWeighted } from '../policy/routing.js';
import type { RouteDestination, TcpRoute } from '../policy/config.js';
import { workloadSpiffeId } from '../identity/spiffe.js';
import { clusterName, hostKey, type TcpUpstream } from './cluster.js';
import type { ClusterSet } from './clusters.js';
import { firstHeader, type SidecarContext } from './context.js';
import { encodePeer, PLAINTEXT, servicePeer, UNKNOWN_PEER } from './identity.js';
import { rescue, type Failure } from './local-reply.js';
import { connectionClosed, connectionOpened, pipeCounted, type TcpConnection } from './tcp-connection.js';
import { nowMs } from './telemetry.js';

const NOTHING_TRIED: ReadonlySet<string> = new Set();

/** The tcp route a connection to `port` takes: the first whose match names the port (or names none). */
export function selectTcpRoute(routes: readonly TcpRoute[] | undefined, port: number): TcpRoute | undefined {
  return routes?.find((r) => r.ports.length === 0 || r.ports.includes(port));
}

export class TcpProxy {
  private sequence = 0;
  private readonly open = new Set<net.Socket>();

  constructor(private readonly ctx: SidecarContext, private readonly clusters: ClusterSet) {}

  /** A CONNECT on the outbound listener: `req.url` is the destination, `host:port`. */
  connect(req: IncomingMessage, client: net.Socket, head: Buffer): void {
    client.on('error', () => client.destroy());
    const authority = req.url ?? '';
    const service = serviceFromAuthority(authority);
    const snapshot = this.ctx.snapshot();
    const entry = snapshot?.services[service];
    const port = Number(authority.slice(authority.lastIndexOf(':') + 1)) || entry?.port || 0;
    const key = firstHeader(req.headers[HEADER.requestKey]) ?? `${this.ctx.boot.instance}.tcp${this.sequence++}`;
    const seed = snapshot?.seed ?? 0;
    if (!snapshot || !entry) return this.refuse(client, { kind: 'no-route' }, service, key);
    const route = selectTcpRoute(snapshot.config.virtualHosts[service]?.tcpRoutes, port);
    const destination: RouteDestination | undefined = route
      ? pickWeighted(route.destinations, unit(seed, 'route', key))
      : { host: service, subset: undefined, weight: 100 };
    if (!destination) return this.refuse(client, { kind: 'no-route' }, service, key);
    const lookup = this.clusters.get(destination.host, destination.subset);
    if ('missing' in lookup) return this.refuse(client, lookup.missing === 'service' ? { kind: 'no-route' } : { kind: 'no-cluster' }, destination.host, key);
    const cluster = lookup.cluster;
    const endpoint = cluster.pick(NOTHING_TRIED, unit(seed, 'host', key, '1'), unit(seed, 'host2', key, '1'));
    if (!endpoint) return this.refuse(client, { kind: 'no-healthy-upstream' }, destination.host, key);
    this.tunnel(client, head, destination.host, endpoint, cluster.connectTcp(endpoint), key, cluster.name);
  }

  private tunnel(client: net.Socket, head: Buffer, service: string, endpoint: Endpoint, upstream: TcpUpstream, key: string, upstreamCluster: string): void {
    const { socket, mtls } = upstream;
    const connection: TcpConnection = {
      labels: {
        reporter: 'source',
        source: this.ctx.self,
        destination: servicePeer(service, endpoint.version),
        destinationService: service,
        flags: '-',
        // The source side reports `unknown`; the principals are the SPIFFE IDs mTLS proved.
        security: mtls ? { mtls, sourcePrincipal: this.ctx.tls?.spiffe, destinationPrincipal: workloadSpiffeId(service, this.ctx.boot.namespace, this.ctx.snapshot()?.services[service]?.serviceAccount) } : PLAINTEXT,
      },
      startMs: nowMs(), key, upstreamHost: hostKey(endpoint), upstreamCluster, serverName: null,
    };
    let connected = false;
    socket.once(upstream.ready, () => {
      connected = true;
      // Istio's metadata exchange: who is calling, in-band before the client's first byte.
      // (mesh-sim adds the connection's identity, so its counts land in the right check window.)
      if (mtls) socket.write(`${encodePeer(this.ctx.self)}\t${key}\n`);
      client.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (head.length > 0) socket.write(head);
      connectionOpened(this.ctx, connection, client, socket);
      this.open.add(client);
      pipeCounted(client, socket, (sent, received) => {
        this.open.delete(client);
        connectionClosed(this.ctx, connection, { status: 200, sent, received, log: true });
      });
    });
    socket.once('error', () => {
      if (connected) return;
      socket.destroy();
      this.refuse(client, { kind: 'connect-failure' }, service, key);
    });
  }

  /** A CONNECT answered by the sidecar itself, as Envoy's local reply, and counted as a connection that failed. */
  private refuse(client: net.Socket, failure: Failure, service: string, key: string): void {
    const reply = rescue(failure);
    const body = reply.body;
    client.end(`HTTP/1.1 ${reply.status} ${reply.status === 404 ? 'Not Found' : 'Service Unavailable'}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-envoy-response-flags: ${reply.flag ?? '-'}\r\nconnection: close\r\n\r\n${body}`);
    const connection: TcpConnection = {
      labels: { reporter: 'source', source: this.ctx.self, destination: UNKNOWN_PEER, destinationService: failure.kind === 'no-route' ? 'unknown' : service, flags: reply.flag ?? '-', security: PLAINTEXT },
      startMs: nowMs(), key, upstreamHost: null,
      upstreamCluster: clusterName(service, this.ctx.snapshot()?.services[service]?.port ?? 0, undefined), serverName: null,
    };
    connectionOpened(this.ctx, connection, client, undefined);
    connectionClosed(this.ctx, connection, { status: reply.status, sent: 0, received: 0, log: true });
  }

  close(): void {
    for (const socket of this.open) socket.destroy();
  }
}
