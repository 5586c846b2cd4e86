import test from 'ava';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { CertificateAuthority } from '../../src/identity/ca.js';
import { signingRequest } from '../../src/identity/workload-certificate.js';
import { listenOn } from '../../src/listen.js';
import { ConnectFailure, HttpPool, HttpsPool, type UpstreamPool } from '../../src/sidecar/upstream-pool.js';

// Envoy's HTTP/1.1 connection pool: a pending request goes to whichever connection is
// ready first, a failed connect fails the host's pending requests, and the DestinationRule's
// per-connection limits hold.

interface Upstream {
  port: number;
  /** Connections accepted, in order, by the client's source port. */
  connections: number[];
  closed: number[];
  close(): void;
}

/** An HTTP server that answers `/slow` after `slowMs`, counting connections. */
async function plainUpstream(slowMs = 0): Promise<Upstream> {
  const server = http.createServer((req, res) => {
    if (req.url === '/slow') setTimeout(() => res.end(String(req.socket.remotePort)), slowMs);
    else res.end(String(req.socket.remotePort));
  });
  server.keepAliveTimeout = 60_000;
  const connections: number[] = [];
  const closed: number[] = [];
  server.on('connection', (s: net.Socket) => {
    const port = s.remotePort!;
    connections.push(port);
    s.once('close', () => closed.push(port));
  });
  const port = await listenOn(server, 0, '127.0.0.1');
  return { port, connections, closed, close: () => { server.closeAllConnections(); server.close(); } };
}

let material: Promise<{ key: string; cert: string; ca: string }> | undefined;
function certificate(): Promise<{ key: string; cert: string; ca: string }> {
  material ??= (async () => {
    const ca = await CertificateAuthority.create();
    const spiffe = 'spiffe://cluster.local/ns/default/sa/pool';
    const { csr, key } = await signingRequest(spiffe);
    const issued = await ca.sign(csr, spiffe);
    return { key, cert: issued.certificate, ca: issued.root };
  })();
  return material;
}

/**
 * An HTTPS server whose handshakes wait while `hold` says so: the raw connection is
 * accepted at once, its TLS handshake only once released (or never).
 */
async function tlsUpstream(slowMs: number, hold: (n: number) => 'now' | 'later' | 'never'): Promise<Upstream & { release(): void }> {
  const { key, cert } = await certificate();
  const secure = https.createServer({ key, cert }, (req, res) => {
    if (req.url === '/slow') setTimeout(() => res.end(String(req.socket.remotePort)), slowMs);
    else res.end(String(req.socket.remotePort));
  });
  secure.keepAliveTimeout = 60_000;
  const held: net.Socket[] = [];
  const connections: number[] = [];
  const closed: number[] = [];
  const raw = net.createServer((socket) => {
    const port = socket.remotePort!;
    connections.push(port);
    socket.once('close', () => closed.push(port));
    socket.on('error', () => {});
    const when = hold(connections.length);
    if (when === 'now') secure.emit('connection', socket);
    else if (when === 'later') held.push(socket);
  });
  const port = await listenOn(raw, 0, '127.0.0.1');
  return {
    port, connections, closed,
    release: () => { for (const s of held.splice(0)) secure.emit('connection', s); },
    close: () => { raw.close(); secure.closeAllConnections(); for (const s of held) s.destroy(); },
  };
}

async function clientTls(): Promise<https.AgentOptions> {
  const { ca } = await certificate();
  return { ca, servername: 'pool.test', checkServerIdentity: () => undefined };
}

function get(agent: http.Agent, port: number, path: string, secure = false): { done: Promise<{ via: number; reused: boolean }>; req: http.ClientRequest } {
  let req!: http.ClientRequest;
  const done = new Promise<{ via: number; reused: boolean }>((resolve, reject) => {
    req = (secure ? https : http).request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ via: Number(body), reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
  return { done, req };
}

const OPTIONS = { keepAlive: true, maxSockets: Infinity, maxFreeSockets: 512, scheduling: 'lifo' } as const;

test('a pending request takes the connection freed first, not only the one opened for it', async (t) => {
  // The second connection's handshake waits until released: Node's own agent would
  // hold the second request on it; Envoy's pool serves it on the first, once that is free.
  const upstream = await tlsUpstream(50, (n) => (n === 1 ? 'now' : 'later'));
  const pool = new HttpsPool({ ...OPTIONS, ...(await clientTls()) });
  const a = await get(pool, upstream.port, '/slow', true).done;
  t.is(upstream.connections.length, 1);
  // Both in flight now: the second has no idle connection and waits, pending.
  const busy = get(pool, upstream.port, '/slow', true);
  const waiting = get(pool, upstream.port, '/fast', true);
  const [b, c] = await Promise.all([busy.done, waiting.done]);
  t.is(b.via, a.via, 'the busy request rode the idle connection');
  t.is(c.via, a.via, 'the pending request took that connection once it was free');
  t.true(c.reused, 'and knows the connection was used before');
  t.is(upstream.connections.length, 2, 'a second connection was opened for it all the same, as Envoy does');
  // Released, the second connection is ready and waits idle: the next two requests use both, opening none.
  upstream.release();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const [d, e] = await Promise.all([get(pool, upstream.port, '/slow', true).done, get(pool, upstream.port, '/slow', true).done]);
  t.is(upstream.connections.length, 2);
  t.not(d.via, e.via, 'two idle connections served two requests at once');
  pool.destroy();
  upstream.close();
});

test('a connection that does not connect within the connect timeout fails every pending request of its host', async (t) => {
  const upstream = await tlsUpstream(0, () => 'never');
  const pool = new HttpsPool({ ...OPTIONS, ...(await clientTls()) });
  pool.connectTimeoutMs = 150;
  const outcomes = await Promise.all([1, 2, 3].map(() => get(pool, upstream.port, '/fast', true).done.then(() => undefined, (e: unknown) => e)));
  for (const error of outcomes) {
    t.true(error instanceof ConnectFailure, String(error));
    t.is((error as ConnectFailure).code, 'ETIMEDOUT');
  }
  t.is(pool.pendingRequests, 0);
  // The other two connections time out in turn; then nothing waits and the host leaves the map.
  for (let i = 0; i < 50 && pool.hostsWaiting > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  t.is(pool.hostsWaiting, 0, 'the failed host left the map');
  pool.destroy();
  upstream.close();
});

test('a refused connection is a connection failure, not a reset', async (t) => {
  const upstream = await plainUpstream();
  upstream.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const pool = new HttpPool(OPTIONS);
  const error = await get(pool, upstream.port, '/fast').done.then(() => undefined, (e: unknown) => e);
  t.true(error instanceof ConnectFailure);
  t.is((error as ConnectFailure).code, 'ECONNREFUSED');
  pool.destroy();
});

test('maxRequestsPerConnection closes a connection after that many requests, pending ones included', async (t) => {
  const upstream = await plainUpstream(20);
  const pool: UpstreamPool = new HttpPool(OPTIONS);
  pool.maxRequestsPerConnection = 2;
  for (let i = 0; i < 5; i++) await get(pool, upstream.port, '/fast').done;
  t.is(upstream.connections.length, 3, 'five requests, two per connection');
  // Concurrent: pending requests never ride a connection past its limit.
  const seen = await Promise.all(Array.from({ length: 6 }, (_, i) => get(pool, upstream.port, i % 2 ? '/slow' : '/fast').done));
  const perConnection = new Map<number, number>();
  for (const { via } of seen) perConnection.set(via, (perConnection.get(via) ?? 0) + 1);
  t.true([...perConnection.values()].every((n) => n <= 2), JSON.stringify([...perConnection]));
  pool.destroy();
  upstream.close();
});

test('an idle connection closes after the idle timeout', async (t) => {
  const upstream = await plainUpstream();
  const pool = new HttpPool(OPTIONS);
  pool.idleTimeoutMs = 50;
  const { via } = await get(pool, upstream.port, '/fast').done;
  for (let i = 0; i < 100 && !upstream.closed.includes(via); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  t.true(upstream.closed.includes(via), 'closed by the client once idle');
  pool.destroy();
  upstream.close();
});

test('a request that gives up while pending takes no connection, and the others still go', async (t) => {
  const upstream = await tlsUpstream(50, (n) => (n === 1 ? 'now' : 'later'));
  const pool = new HttpsPool({ ...OPTIONS, ...(await clientTls()) });
  await get(pool, upstream.port, '/fast', true).done;
  const busy = get(pool, upstream.port, '/slow', true);
  const quitter = get(pool, upstream.port, '/fast', true);
  const patient = get(pool, upstream.port, '/fast', true);
  quitter.req.destroy();
  const quit = await quitter.done.then(() => 'answered', () => 'gave up');
  t.is(quit, 'gave up');
  const [b, p] = await Promise.all([busy.done, patient.done]);
  t.is(p.via, b.via, 'the patient request took the freed connection');
  pool.destroy();
  upstream.close();
});

test('a host nothing waits for leaves the pool, so endpoints that come and go do not pile up', async (t) => {
  // A restarted pod is a new endpoint: after five, the pool keeps their idle
  // connections (Node's bookkeeping) and no queue for any of them.
  const upstreams = await Promise.all([1, 2, 3, 4, 5].map(() => plainUpstream()));
  const pool = new HttpPool(OPTIONS);
  for (const upstream of upstreams) await get(pool, upstream.port, '/fast').done;
  t.is(pool.hostsWaiting, 0);
  // A host pruned while idle is served again as before.
  const again = await Promise.all([get(pool, upstreams[0]!.port, '/fast').done, get(pool, upstreams[0]!.port, '/fast').done]);
  t.is(again.length, 2);
  t.is(pool.hostsWaiting, 0);
  pool.destroy();
  for (const upstream of upstreams) upstream.close();
});
