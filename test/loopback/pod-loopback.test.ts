import test from 'ava';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { LoopbackSocket, loopbackAgent, offerLoopback } from '../../src/loopback/pod-loopback.js';
import { listenOn } from '../../src/listen.js';
import { ephemeralRange } from '../../src/ephemeral-ports.js';

// A pod's loopback in memory: what an app and its sidecar on one node see must be what
// they would see over TCP on 127.0.0.1, only cheaper.

async function server(handler: http.RequestListener, offer = true): Promise<{ server: http.Server; port: number; sockets: net.Socket[] }> {
  const s = http.createServer(handler);
  s.keepAliveTimeout = 65_000;
  const sockets: net.Socket[] = [];
  s.on('connection', (socket: net.Socket) => sockets.push(socket));
  const port = await listenOn(s, 0, '127.0.0.1');
  if (offer) offerLoopback(s, '127.0.0.1', port);
  return { server: s, port, sockets };
}

function get(agent: http.Agent, port: number, options: { method?: string; body?: Buffer } = {}): Promise<{ status: number; body: Buffer; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/x', method: options.method ?? 'GET', agent }, (res) => {
      const chunks: Buffer[] = [];
      const socket = res.socket;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), socket }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const echo: http.RequestListener = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => res.end(Buffer.concat(chunks)));
};

test('an offered server is reached in memory, and keep-alive reuses the connection', async (t) => {
  const { server: s, port, sockets } = await server((_req, res) => res.end('hello'));
  const agent = loopbackAgent({ keepAlive: true });
  const first = await get(agent, port);
  const second = await get(agent, port);
  t.is(first.status, 200);
  t.is(second.body.toString(), 'hello');
  t.is(sockets.length, 1, 'one connection for two requests');
  t.true(sockets[0] instanceof LoopbackSocket);
  t.false(sockets[0] instanceof net.Socket);
  agent.destroy();
  s.close();
});

test('both ends see the addresses TCP on 127.0.0.1 would show', async (t) => {
  let seen: { remoteAddress?: string; remotePort?: number; localPort?: number } = {};
  const { server: s, port } = await server((req, res) => {
    seen = { remoteAddress: req.socket.remoteAddress, remotePort: req.socket.remotePort, localPort: req.socket.localPort };
    res.end();
  });
  const agent = loopbackAgent({ keepAlive: true });
  const { socket } = await get(agent, port);
  t.is(seen.remoteAddress, '127.0.0.1');
  t.is(seen.localPort, port);
  t.is(seen.remotePort, socket.localPort, 'the server sees the client\'s source port');
  const [low, high] = ephemeralRange();
  t.true(socket.localPort! >= low && socket.localPort! <= high, 'a source port from this machine\'s ephemeral range');
  t.is(socket.remotePort, port);
  agent.destroy();
  s.close();
});

test('a client bound to a source address shows it on both ends, in memory as over TCP', async (t) => {
  let seen: string | undefined;
  const { server: s, port } = await server((req, res) => {
    seen = req.socket.remoteAddress;
    res.end();
  });
  // Istio's sidecar reaches its app from 127.0.0.6; this machine binds it, as Linux does.
  const inMemory = loopbackAgent({ keepAlive: true, localAddress: '127.0.0.6' });
  const viaMemory = await get(inMemory, port);
  t.true(viaMemory.socket instanceof LoopbackSocket);
  t.is(viaMemory.socket.localAddress, '127.0.0.6');
  t.is(seen, '127.0.0.6');
  if (process.platform === 'linux') {
    const overTcp = new http.Agent({ keepAlive: true, localAddress: '127.0.0.6' });
    const viaTcp = await get(overTcp, port);
    t.true(viaTcp.socket instanceof net.Socket);
    t.is(viaTcp.socket.localAddress, viaMemory.socket.localAddress, 'the same source address as over TCP');
    t.is(seen, '127.0.0.6');
    overTcp.destroy();
  }
  inMemory.destroy();
  s.close();
});

test('bodies in both directions arrive whole', async (t) => {
  const { server: s, port } = await server(echo);
  const agent = loopbackAgent({ keepAlive: true });
  const body = Buffer.alloc(1024 * 1024 + 7);
  for (let i = 0; i < body.length; i++) body[i] = i % 251;
  const answer = await get(agent, port, { method: 'POST', body });
  t.true(answer.body.equals(body));
  agent.destroy();
  s.close();
});

test('the server hears a request on a later turn, never inside the client\'s write', async (t) => {
  let ended = false;
  let handledAfterEnd: boolean | undefined;
  const { server: s, port } = await server((_req, res) => {
    handledAfterEnd = ended;
    res.end();
  });
  const agent = loopbackAgent({ keepAlive: true });
  const done = new Promise<void>((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, agent }, (res) => res.resume().on('end', resolve));
    req.end();
    ended = true;
  });
  await done;
  t.true(handledAfterEnd);
  agent.destroy();
  s.close();
});

test('a server not offered here is reached over TCP', async (t) => {
  const { server: s, port, sockets } = await server((_req, res) => res.end('tcp'), false);
  const agent = loopbackAgent({ keepAlive: true });
  t.is((await get(agent, port)).body.toString(), 'tcp');
  t.true(sockets[0] instanceof net.Socket);
  agent.destroy();
  s.close();
});

test('once the server stops listening, connecting is refused as over TCP', async (t) => {
  const { server: s, port } = await server((_req, res) => res.end());
  const agent = loopbackAgent({ keepAlive: false });
  await get(agent, port);
  s.close();
  const error = await t.throwsAsync(get(agent, port));
  t.is((error as NodeJS.ErrnoException).code, 'ECONNREFUSED');
});

test('a server that drops its connections mid-request resets its callers', async (t) => {
  let arrived!: () => void;
  const inFlight = new Promise<void>((resolve) => (arrived = resolve));
  const { server: s, port } = await server(() => arrived());
  const agent = loopbackAgent({ keepAlive: true });
  const call = get(agent, port);
  await inFlight;
  s.close();
  s.closeAllConnections();
  const error = await t.throwsAsync(call);
  t.is((error as NodeJS.ErrnoException).code, 'ECONNRESET');
});

test('a caller that goes away mid-request closes the server\'s response', async (t) => {
  let closed!: () => void;
  const responseClosed = new Promise<void>((resolve) => (closed = resolve));
  const { server: s, port } = await server((_req, res) => res.on('close', () => closed()));
  const agent = loopbackAgent({ keepAlive: true });
  const req = http.request({ host: '127.0.0.1', port, agent });
  req.on('error', () => {});
  req.end();
  await once(s, 'request');
  req.destroy();
  await responseClosed;
  t.pass();
  agent.destroy();
  s.close();
});

test('over ::1 both ends speak IPv6, as the kernel would', async (t) => {
  let seen: { remoteAddress?: string; remoteFamily?: string } = {};
  const s = http.createServer((req, res) => {
    seen = { remoteAddress: req.socket.remoteAddress, remoteFamily: req.socket.remoteFamily };
    res.end();
  });
  const port = await listenOn(s, 0, '::1').catch(() => undefined);
  if (port === undefined) return t.pass('no IPv6 loopback on this machine');
  offerLoopback(s, '::1', port);
  const agent = loopbackAgent({ keepAlive: true });
  const { socket } = await new Promise<{ socket: net.Socket }>((resolve, reject) => {
    const req = http.request({ host: '::1', port, agent }, (res) => {
      const socket = res.socket;
      res.resume().on('end', () => resolve({ socket }));
    });
    req.on('error', reject);
    req.end();
  });
  t.true(socket instanceof LoopbackSocket);
  t.is(seen.remoteAddress, '::1');
  t.is(seen.remoteFamily, 'IPv6');
  t.is(socket.localAddress, '::1');
  agent.destroy();
  s.close();
});
