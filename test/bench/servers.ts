// Processes the benchmark measures: an upstream that answers at once, the bare
// node:http forwarder a sidecar is compared with, and http-proxy alone in the same role
// (so the report can tell the proxy library's cost from telemetry's).
// Run as `node servers.js KIND PORT [TARGET_PORT]`.

import http from 'node:http';
import httpProxy from 'http-proxy';

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
}
process.on('disconnect', () => process.exit(0));
