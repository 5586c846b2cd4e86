// One port for HTTP/1.1 and cleartext HTTP/2, as the hub needs: sidecars, workloads and
// most SDKs speak HTTP/1.1 to it, while an SDK exporting OTLP over gRPC opens HTTP/2 with
// prior knowledge on the same endpoint (OTEL_EXPORTER_OTLP_ENDPOINT is one address).
// A connection's first bytes tell them apart: HTTP/2's preface begins "PRI", which no
// HTTP/1.1 method does.

import type http from 'node:http';
import type http2 from 'node:http2';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

const PREFACE_START = Buffer.from('PRI', 'latin1');

/** Hands each new connection to `web` or to `h2` by its first bytes. */
export function dispatchByVersion(web: http.Server, h2: http2.Http2Server, firstByteTimeoutMs = 15_000): (socket: Socket) => void {
  return (socket) => {
    let seen: Buffer = Buffer.alloc(0);
    const first = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const head = seen.subarray(0, PREFACE_START.length);
      // Too short to tell yet, and still possibly HTTP/2's preface: wait for more.
      if (seen.length < PREFACE_START.length && PREFACE_START.subarray(0, head.length).equals(head)) return;
      socket.off('data', first);
      socket.setTimeout(0);
      socket.pause();
      if (head.equals(PREFACE_START)) h2.emit('connection', replaying(socket, seen));
      else {
        // Node's HTTP/1.1 server reads what was put back before anything new.
        socket.unshift(seen);
        web.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', first);
    // A connection that closes or fails before saying anything belongs to nobody, and
    // one that says nothing for a while is closed (the servers' own timeouts start later).
    socket.once('error', () => socket.destroy());
    socket.setTimeout(firstByteTimeoutMs, () => socket.destroy());
  };
}

/**
 * The socket as a stream that first replays what was read from it. Node's HTTP/2
 * session reads a socket's handle directly and would miss bytes put back with
 * unshift; over a plain stream it reads what the stream gives it.
 */
function replaying(socket: Socket, already: Buffer): Duplex {
  // As Node's HTTP/2 does with a socket it is given: small frames (WINDOW_UPDATE, SETTINGS)
  // go at once, not after a delayed ACK, or every flow-control window costs one.
  socket.setNoDelay(true);
  const stream = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, encoding, done) {
      socket.write(chunk, encoding, done);
    },
    final(done) {
      socket.end();
      done();
    },
    destroy(error, done) {
      socket.destroy(error ?? undefined);
      done(error);
    },
  });
  stream.push(already);
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.on('end', () => stream.push(null));
  socket.on('close', () => stream.destroy());
  socket.on('error', (error) => stream.destroy(error));
  return stream;
}
