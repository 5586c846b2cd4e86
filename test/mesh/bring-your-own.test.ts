import test from 'ava';
import http from 'node:http';
import { loadText, startMesh } from '../helpers/mesh.js';

// The app prints what it was told: where to listen, where to call, where to send spans.
const scenario = `
name: byo
services:
  mine:
    command: >-
      node -e "require('http').createServer((q, r) => r.end(JSON.stringify({
        port: process.env.PORT, proxy: process.env.HTTP_PROXY,
        otlp: process.env.OTEL_EXPORTER_OTLP_ENDPOINT, protocol: process.env.OTEL_EXPORTER_OTLP_PROTOCOL,
        headers: process.env.OTEL_EXPORTER_OTLP_HEADERS,
        name: process.env.OTEL_SERVICE_NAME }))).listen(process.env.PORT)"
`;

test.serial("a program of one's own is told PORT, HTTP_PROXY and where its OpenTelemetry SDK sends spans", async (t) => {
  const mesh = await startMesh(await loadText(scenario));
  t.teardown(() => mesh.session.shutdown());
  const ingress = mesh.session.instances.get('istio-ingressgateway')!.started!.ingress!;
  const body = await new Promise<string>((resolve, reject) => {
    http.get({ host: ingress.host, port: ingress.port, path: '/', headers: { host: 'mine:8080' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
  const told = JSON.parse(body) as Record<string, string>;
  t.regex(told.port!, /^\d+$/);
  t.regex(told.proxy!, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.is(told.otlp, mesh.session.collectorUrl);
  t.is(told.protocol, 'http/protobuf', 'the protocol the collector speaks, and most SDKs\' default');
  t.is(told.name, 'mine');
  t.is(decodeURIComponent(told.headers!.replace(/^authorization=/, '')), mesh.session.collectorHeaders.authorization!, "the run's secret, as OTEL_EXPORTER_OTLP_HEADERS carries headers");
});
