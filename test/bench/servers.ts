// Processes the benchmark measures: an upstream that answers at once, the bare
// node:http forwarder a sidecar is compared with, http-proxy alone in the same role
// (so the report can tell the proxy library's cost from telemetry's), and a relay that
// does no HTTP work at all (the floor under any proxy written in JavaScript, so the
// report can tell Node's HTTP machinery's cost from everything above it), and Node's
// HTTP server in front of that relay's upstream side (Node's server half alone).
// Run as `node servers.js KIND PORT [TARGET_PORT]`.

import http from 'node:http';
import httpProxy from 'http-proxy';
import net from 'node:net';

const [kind, portText, targetText] = process.argv.slice(2);
const port = Number(portText);
const body = Buffer.alloc(128, 'x');

if (kind === 'upstream') {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body);
  });
  server.keepAliveTimeout = 65_000;
  server.listen(port, '127.0.0.1', () => process.send?.('ready'));
} else if (kind === 'forwarder') {
  const target = Number(targetText);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, scheduling: 'lifo' });
  const server = http.createServer((req, res) => {
    const upstream = http.request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 65_000;
  server.listen(port, '127.0.0.1', () => process.send?.('ready'));
} else if (kind === 'http-proxy') {
  const target = { protocol: 'http:', host: '127.0.0.1', port: Number(targetText) };
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, scheduling: 'lifo' });
  const proxy = httpProxy.createProxyServer({ xfwd: false, ws: false });
  const server = http.createServer((req, res) => proxy.web(req, res, { target, agent }, () => res.writeHead(502).end()));
  server.keepAliveTimeout = 65_000;
  server.listen(port, '127.0.0.1', () => process.send?.('ready'));
} else if (kind === 'relay') {
  relay(Number(targetText));
} else if (kind === 'server-half') {
  serverHalf(Number(targetText));
}

/**
 * Not a proxy anyone should run: it knows only this benchmark's traffic (GETs without a
 * body, answered with content-length), finds each head's end and copies bytes over a
 * pool of kept-alive upstream connections. Its cost is the sockets' and the event
 * loop's, which every proxy pays whatever its HTTP code.
 */
function relay(target: number): void {
  const send = relayUpstream(target);
  net.createServer((client) => {
    client.setNoDelay(true);
    let pending: Buffer | undefined;
    client.on('data', (data: Buffer) => {
      pending = pending ? Buffer.concat([pending, data]) : data;
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        send(pending.subarray(0, end + 4), (response) => client.write(response));
        pending = pending.subarray(end + 4);
      }
    });
    client.on('error', () => {});
  }).listen(port, '127.0.0.1', () => process.send?.('ready'));
}

/**
 * Node's HTTP server in front of the relay's upstream side: what Node's server half
 * costs on its own (the forwarder's cost less this is its client half's).
 */
function serverHalf(target: number): void {
  const send = relayUpstream(target);
  const server = http.createServer((req, res) => {
    let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (let i = 0; i < req.rawHeaders.length; i += 2) head += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
    req.resume();
    send(Buffer.from(`${head}\r\n`, 'latin1'), (response) => {
      const end = response.indexOf('\r\n\r\n');
      const lines = response.toString('latin1', 0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      res.writeHead(Number(lines[0]!.split(' ')[1]), headers).end(response.subarray(end + 4));
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(port, '127.0.0.1', () => process.send?.('ready'));
}

/** The relay's upstream side: sends a request head, answers with the whole response, over kept-alive connections. */
function relayUpstream(target: number): (head: Buffer, answer: (response: Buffer) => void) => void {
  interface Upstream { socket: net.Socket; buffered?: Buffer; answer?: (response: Buffer) => void }
  const idle: Upstream[] = [];
  const upstream = (): Upstream => {
    const reused = idle.pop();
    if (reused) return reused;
    const to: Upstream = { socket: net.connect(target, '127.0.0.1') };
    to.socket.setNoDelay(true);
    to.socket.on('data', (data: Buffer) => {
      const buffered = to.buffered ? Buffer.concat([to.buffered, data]) : data;
      const end = buffered.indexOf('\r\n\r\n');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(buffered.toString('latin1', 0, Math.max(0, end)))?.[1] ?? 0);
      if (end < 0 || buffered.length < end + 4 + length) {
        to.buffered = buffered;
        return;
      }
      to.buffered = undefined;
      const answer = to.answer!;
      to.answer = undefined;
      idle.push(to);
      answer(buffered);
    });
    to.socket.on('error', () => {});
    return to;
  };
  return (head, answer) => {
    const to = upstream();
    to.answer = answer;
    to.socket.write(head);
  };
}
process.on('disconnect', () => process.exit(0));
