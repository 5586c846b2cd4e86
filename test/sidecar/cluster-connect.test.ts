import test from 'ava';
import net from 'node:net';
import { Cluster } from '../../src/sidecar/cluster.js';
import { defaultTrafficPolicy } from '../../src/policy/config.js';
import { listenOn } from '../../src/listen.js';
import type { SidecarTls } from '../../src/sidecar/mtls.js';

// tcp_proxy's connection to an upstream honours the cluster's connectTimeout, as the
// HTTP pool does: a connection not open in time fails (the proxy answers UF).

/** A server that takes TCP connections and never speaks TLS: a handshake to it never ends. */
async function silent(): Promise<{ port: number; close(): void }> {
  const held: net.Socket[] = [];
  const server = net.createServer((s) => {
    s.on('error', () => {});
    held.push(s);
  });
  const port = await listenOn(server, 0, '127.0.0.1');
  return { port, close: () => { for (const s of held) s.destroy(); server.close(); } };
}

// Enough of a pod's TLS for a client handshake to start: the handshake is what stalls.
const material = { clientOptions: () => ({ servername: 'outbound_.9000_._.echo.default.svc.cluster.local', rejectUnauthorized: false }), generation: 0 } as unknown as SidecarTls;

function cluster(connectTimeoutMs: number | undefined): Cluster {
  const policy = defaultTrafficPolicy();
  policy.connectionPool.connectTimeoutMs = connectTimeoutMs;
  return new Cluster('echo', undefined, 9000, policy, () => {}, { tls: () => material, config: () => undefined });
}

test('a TCP upstream not through its handshake within the connect timeout is dropped as a connect failure', async (t) => {
  const upstream = await silent();
  const endpoint = { instance: 'echo-v1-0', version: 'v1', host: '127.0.0.1', port: upstream.port, sidecar: true };
  const { socket, mtls, ready } = cluster(150).connectTcp(endpoint);
  t.true(mtls);
  const outcome = await new Promise<string>((resolve) => {
    socket.once(ready, () => resolve('ready'));
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
  t.is(outcome, 'ETIMEDOUT');
  t.true(socket.destroyed);
  upstream.close();
});

test('without a connect timeout, a stalled handshake is left to the caller', async (t) => {
  const upstream = await silent();
  const endpoint = { instance: 'echo-v1-0', version: 'v1', host: '127.0.0.1', port: upstream.port, sidecar: true };
  const { socket } = cluster(undefined).connectTcp(endpoint);
  socket.on('error', () => {});
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.false(socket.destroyed, 'still waiting after twice the other test\'s limit');
  socket.destroy();
  upstream.close();
});
