// How a sidecar forwards one request over HTTP/1.1, on its own against real servers on
// 127.0.0.1: connection headers stay on their own hop, the answer comes back whole,
// and an upstream that resets midway resets the download instead of leaving it open.
import test from 'ava';
import http, { type IncomingHttpHeaders, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onwardRequestHeaders, relayRequest, returnedResponseHeaders } from '../../src/sidecar/upstream-http.js';

async function listen(handler: RequestListener): Promise<{ server: http.Server; port: number; connections: () => number }> {
  const server = http.createServer(handler);
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections };
}

/** A front server relaying every request to `upstreamPort` through one keep-alive agent. */
async function relay(upstreamPort: number) {
  const agent = new http.Agent({ keepAlive: true });
  const front = await listen((req, res) => relayRequest(req, res, { host: '127.0.0.1', port: upstreamPort, agent }, () => res.destroy()));
  return { ...front, close: () => { agent.destroy(); front.server.close(); } };
}

function get(port: number, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/x?y=1', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('no answer within 5 s')));
  });
}

test('a request goes on without the headers about its connection, as Envoy sends it', (t) => {
  t.deepEqual(onwardRequestHeaders({
    host: 'b:9080', connection: 'close', 'keep-alive': 'timeout=5', 'transfer-encoding': 'chunked', upgrade: 'websocket',
    'proxy-connection': 'keep-alive', te: 'gzip', trailer: 'x-checksum', 'set-cookie': ['a=1', 'b=2'], 'x-user': 'jason',
  }), { host: 'b:9080', trailer: 'x-checksum', 'set-cookie': ['a=1', 'b=2'], 'x-user': 'jason' });
  // TE stays only as `trailers` (what gRPC sends), whatever else it listed.
  t.is(onwardRequestHeaders({ te: 'trailers' }).te, 'trailers');
  t.is(onwardRequestHeaders({ te: 'deflate, Trailers;q=1' }).te, 'trailers');
  t.false('te' in onwardRequestHeaders({ te: 'trailersx, gzip' }));
});

test('an answer comes back without the headers about its connection', (t) => {
  t.deepEqual(returnedResponseHeaders({
    'content-type': 'text/plain', connection: 'keep-alive', 'keep-alive': 'timeout=5', 'transfer-encoding': 'chunked',
    'proxy-connection': 'close', upgrade: 'h2c', 'x-app': 'ratings',
  }), { 'content-type': 'text/plain', 'x-app': 'ratings' });
});

test("a caller's Connection: close stays on its hop: the upstream connection is kept and reused", async (t) => {
  const seen: IncomingHttpHeaders[] = [];
  const upstream = await listen((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`${req.method} ${req.url}`);
  });
  const front = await relay(upstream.port);
  try {
    for (let i = 0; i < 3; i++) {
      const answer = await get(front.port, { connection: 'close', 'keep-alive': 'timeout=1', te: 'trailers, gzip', 'x-user': 'jason' });
      t.is(answer.status, 200);
      t.is(answer.body, 'GET /x?y=1');
    }
    t.is(seen.length, 3);
    for (const headers of seen) {
      t.is(headers['x-user'], 'jason', 'end-to-end headers go on');
      t.is(headers.host, `127.0.0.1:${front.port}`, 'the Host is the caller\'s');
      t.is(headers.connection, 'keep-alive', 'the upstream hop is kept alive whatever the caller asked of its own');
      t.is(headers['keep-alive'], undefined);
      t.is(headers.te, 'trailers', 'TE goes on only as trailers');
    }
    t.is(upstream.connections(), 1, 'one upstream connection served all three');
  } finally {
    front.close();
    upstream.server.close();
  }
});

test("an upstream's chunking is not copied: the download is framed once, and whole", async (t) => {
  const body = 'x'.repeat(50_000);
  const upstream = await listen((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked', connection: 'keep-alive', 'x-app': 'ratings' });
    res.write(body.slice(0, 20_000));
    setTimeout(() => res.end(body.slice(20_000)), 10);
  });
  const front = await relay(upstream.port);
  try {
    const answer = await get(front.port);
    t.is(answer.status, 200);
    t.is(answer.headers['x-app'], 'ratings');
    t.is(answer.body, body);
  } finally {
    front.close();
    upstream.server.close();
  }
});

test('an upstream that resets midway resets the download, which does not hang', async (t) => {
  const upstream = await listen((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100000' });
    res.write('x'.repeat(1000));
    setTimeout(() => res.socket?.destroy(), 20);
  });
  const front = await relay(upstream.port);
  try {
    const error = await t.throwsAsync(get(front.port));
    t.notRegex(error!.message, /no answer within/, `the download ended with: ${error!.message}`);
  } finally {
    front.close();
    upstream.server.close();
  }
});

test('an upstream that cannot be reached is reported, not thrown', async (t) => {
  const gone = await listen(() => {});
  const port = gone.port;
  await new Promise((resolve) => gone.server.close(resolve));
  const errors: string[] = [];
  const agent = new http.Agent({ keepAlive: true });
  const front = await listen((req, res) => relayRequest(req, res, { host: '127.0.0.1', port, agent }, (error) => {
    errors.push(error.code ?? error.message);
    res.writeHead(503).end();
  }));
  try {
    const answer = await get(front.port);
    t.is(answer.status, 503);
    t.deepEqual(errors, ['ECONNREFUSED']);
  } finally {
    agent.destroy();
    front.server.close();
  }
});
