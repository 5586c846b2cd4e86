// Envoy's tcp_proxy on the inbound side, for a tcp service: each connection the inbound
// listener accepted (mutual TLS or plaintext, as PeerAuthentication allows) is piped to
// the app as it is. Over mutual TLS with Istio's peer-exchange ALPN, the caller's
// metadata comes first, in-band, and is taken off before the app sees a byte; the
// caller's principal is the SPIFFE ID its certificate proved. Counted as Istio's
// destination reporter counts TCP connections.

import net from 'node:net';
import tls from 'node:tls';
import { spiffeFromAltNames } from '../identity/spiffe.js';
import { PEER_EXCHANGE_ALPN } from './cluster.js';
import { decodePeer, PLAINTEXT, UNKNOWN_PEER, type ConnectionSecurity, type Peer } from './identity.js';
import type { SidecarContext } from './context.js';
import { nowMs } from './telemetry.js';
import { connectionClosed, connectionOpened, pipeCounted, type TcpConnection } from './tcp-connection.js';
import { inboundBindAddress } from './inbound-bind.js';

/** The metadata line is a few dozen bytes; a peer that sends more before a newline is not a sidecar. */
const MAX_PEER_LINE = 1024;

export class TcpInbound {
  private readonly open = new Set<net.Socket>();

  constructor(private readonly ctx: SidecarContext) {}

  accept(socket: net.Socket): void {
    socket.on('error', () => socket.destroy());
    const secure = socket instanceof tls.TLSSocket;
    const start = () => {
      if (secure && (socket as tls.TLSSocket).alpnProtocol === PEER_EXCHANGE_ALPN) this.readPeer(socket, (peer, key, rest) => this.forward(socket, peer, key, rest));
      else this.forward(socket, UNKNOWN_PEER, undefined, Buffer.alloc(0));
    };
    // Handed over as the handshake begins: a TLS connection is read once it is secure.
    if (secure) socket.once('secure', start);
    else start();
  }

  private readPeer(socket: net.Socket, then: (peer: Peer, key: string | undefined, rest: Buffer) => void): void {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const newline = buffered.indexOf(0x0a);
      if (newline < 0 && buffered.length <= MAX_PEER_LINE) return;
      socket.off('data', onData);
      socket.pause();
      if (newline < 0) {
        socket.destroy();
        return;
      }
      const [peer, key] = buffered.subarray(0, newline).toString('utf8').split('\t');
      then(decodePeer(peer), key || undefined, buffered.subarray(newline + 1));
    };
    socket.on('data', onData);
  }

  private forward(socket: net.Socket, source: Peer, key: string | undefined, rest: Buffer): void {
    const app = this.ctx.boot.app!;
    const upstream = net.connect({ port: app.port, host: app.host, localAddress: inboundBindAddress(app.host) });
    const connection: TcpConnection = {
      labels: { reporter: 'destination', source, destination: this.ctx.self, destinationService: this.ctx.boot.service, flags: '-', security: this.security(socket) },
      startMs: nowMs(), key, upstreamHost: `${app.host}:${app.port}`, upstreamCluster: `inbound|${this.ctx.boot.servicePort}||`,
      serverName: socket instanceof tls.TLSSocket && typeof socket.servername === 'string' ? socket.servername : null,
    };
    upstream.once('connect', () => {
      if (rest.length > 0) upstream.write(rest);
      connectionOpened(this.ctx, connection, socket, upstream);
      this.open.add(socket);
      pipeCounted(socket, upstream, (sent, received) => {
        this.open.delete(socket);
        connectionClosed(this.ctx, connection, { status: 200, sent, received, log: true });
      });
      socket.resume();
    });
    upstream.once('error', () => {
      if (this.open.has(socket)) return;
      // The app does not listen: Envoy's UF, a connection closed at once.
      const failed = { ...connection, labels: { ...connection.labels, flags: 'UF' } };
      connectionOpened(this.ctx, failed, socket, undefined);
      connectionClosed(this.ctx, failed, { status: 503, sent: 0, received: 0, log: false });
      socket.destroy();
    });
  }

  private security(socket: net.Socket): ConnectionSecurity {
    if (!(socket instanceof tls.TLSSocket)) return PLAINTEXT;
    return { mtls: true, sourcePrincipal: spiffeFromAltNames(socket.getPeerCertificate().subjectaltname), destinationPrincipal: this.ctx.tls?.spiffe };
  }

  close(): void {
    for (const socket of this.open) socket.destroy();
  }
}
