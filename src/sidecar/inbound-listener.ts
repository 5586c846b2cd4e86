// The inbound listener's first look at a connection, as Envoy's TLS inspector: a TLS
// ClientHello goes to mutual TLS (the client must present a certificate the mesh's root
// signed), anything else is plaintext. What is accepted follows the workload's
// PeerAuthentication: STRICT resets plaintext connections, DISABLE has no TLS to offer
// (a TLS client is reset), PERMISSIVE takes both. Accepted connections go on to whoever
// serves the pod: the HTTP server (its requests see `socket.encrypted` and the client's
// certificate), or a tcp service's proxy.

import { PEER_EXCHANGE_ALPN } from './cluster.js';
import net from 'node:net';
import tls from 'node:tls';
import type { MtlsMode } from '../policy/security.js';

const TLS_HANDSHAKE = 0x16;
/** A client that says nothing for this long is dropped, as Envoy's listener_filters_timeout (15s). */
const FIRST_BYTE_TIMEOUT_MS = 15_000;

export interface InboundTransport {
  /** The mode in force now (configuration changes apply to new connections). */
  mode(): MtlsMode;
  /** The server side of mutual TLS; undefined when this pod has no certificate. */
  context(): tls.SecureContext | undefined;
}

export interface InboundCounters {
  /** Plaintext connections reset under STRICT. */
  plaintextRejected: number;
  /** TLS handshakes that failed (no client certificate, or one the root did not sign). */
  handshakeFailed: number;
}

export interface InboundListener {
  server: net.Server;
  /**
   * After a configuration change: connections the new mode would refuse are closed, as
   * Envoy drains connections of a filter chain that changed (the client reconnects and
   * is judged again).
   */
  reconcile(): void;
  /** Every connection it handed over, closed at once (the HTTP server does not track connections it did not accept). */
  closeAll(): void;
}

/** Hands an accepted connection (a TLS socket as its handshake begins, or plaintext) to what serves the pod. */
export type Accept = (socket: net.Socket) => void;

export function inboundListener(accept: Accept, transport: InboundTransport, counters: InboundCounters): InboundListener {
  const waiting = new Set<net.Socket>();
  const accepted = { plaintext: new Set<net.Socket>(), tls: new Set<net.Socket>() };
  const keep = (set: Set<net.Socket>, socket: net.Socket) => {
    set.add(socket);
    socket.once('close', () => set.delete(socket));
  };
  const listener = net.createServer((socket) => {
    waiting.add(socket);
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
    socket.once('close', () => waiting.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      waiting.delete(socket);
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(first);
      const mode = transport.mode();
      const context = transport.context();
      if (first[0] === TLS_HANDSHAKE) {
        if (mode === 'DISABLE' || !context) {
          socket.resetAndDestroy();
          return;
        }
        const secure = new tls.TLSSocket(socket, {
          isServer: true, secureContext: context, requestCert: true, rejectUnauthorized: true,
          // Istio's sidecars agree to exchange peer metadata in-band on TCP connections that ask.
          ALPNProtocols: [PEER_EXCHANGE_ALPN, 'http/1.1'],
        });
        let established = false;
        secure.once('secure', () => (established = true));
        secure.on('error', () => {
          if (!established) counters.handshakeFailed++;
          secure.destroy();
        });
        keep(accepted.tls, secure);
        accept(secure);
        return;
      }
      if (mode === 'STRICT') {
        counters.plaintextRejected++;
        socket.resetAndDestroy();
        return;
      }
      keep(accepted.plaintext, socket);
      accept(socket);
      socket.resume();
    });
  });
  listener.on('close', () => {
    for (const socket of waiting) socket.destroy();
  });
  return {
    server: listener,
    reconcile: () => {
      const mode = transport.mode();
      const refused = mode === 'STRICT' ? accepted.plaintext : mode === 'DISABLE' ? accepted.tls : undefined;
      for (const socket of refused ?? []) socket.destroy();
    },
    closeAll: () => {
      for (const socket of [...waiting, ...accepted.plaintext, ...accepted.tls]) socket.destroy();
    },
  };
}
