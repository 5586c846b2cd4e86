// A tcp service on real processes, as Istio's TCP traffic shifting task runs it: a TCP
// echo workload, connections through the ingress gateway's tcp_proxy split 80/20 by a
// VirtualService's tcp route, mutual TLS between the sidecars with the caller's identity
// exchanged in-band, and Istio's istio_tcp_* metrics on both sides.
import test from 'ava';
import net from 'node:net';
import { loadText, scrape, sleep, startMesh, type Sample } from '../helpers/mesh.js';
import { tcpExchange } from '../../src/traffic/tcp-exchange.js';

const SCENARIO = `name: tcp
seed: 8
services:
  tcp-echo:
    port: 9000
    protocol: tcp
    latency: 1ms
    versions: {v1: {}, v2: {}}
istio:
  - apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata: {name: tcp-echo-destination}
    spec:
      host: tcp-echo
      subsets:
        - {name: v1, labels: {version: v1}}
        - {name: v2, labels: {version: v2}}
        - {name: v3, labels: {version: v3}}
  - apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: tcp-echo}
    spec:
      hosts: [tcp-echo]
      tcp:
        - match: [{port: 9000}]
          route:
            - {destination: {host: tcp-echo, port: {number: 9000}, subset: v1}, weight: 80}
            - {destination: {host: tcp-echo, port: {number: 9000}, subset: v2}, weight: 20}
traffic:
  - {name: nc, to: tcp-echo, rps: 60, arrival: uniform}
`;

const sum = (samples: Sample[], name: string, labels: Record<string, string>) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);

test.serial('TCP connections are split by the tcp route, proxied over mutual TLS, and counted as Istio counts them', async (t) => {
  const mesh = await startMesh(await loadText(SCENARIO), 8);
  const { session } = mesh;
  try {
    const gateway = session.instances.get('istio-ingressgateway')!.started!;
    // One exchange by hand, as `nc` through the gateway: the echo says which version answered.
    const socket = net.connect(gateway.ingress!.port, gateway.ingress!.host);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('CONNECT tcp-echo:9000 HTTP/1.1\r\nhost: tcp-echo:9000\r\n\r\n');
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString();
      if (/\r\n\r\n/.test(text) && !text.includes('hello')) socket.write('hello mesh\n');
    });
    const deadline = Date.now() + 5000;
    while (!/v[12] hello mesh\n/.test(text) && Date.now() < deadline) await sleep(20);
    socket.destroy();
    t.regex(text, /^HTTP\/1\.1 200 Connection established\r\n\r\nv[12] hello mesh\n$/);

    session.beginTraffic(4000);
    await sleep(4000);
    await session.stopTraffic();
    await sleep(300);
    const flow = session.flowStats.flow('nc', undefined, 4);
    t.true(flow.requests > 150, `${flow.requests} exchanges`);
    t.is(flow.errors, 0);

    const at = (id: string) => session.instances.get(id)!.started!.admin!;
    const source = await scrape(at('istio-ingressgateway').host, at('istio-ingressgateway').port);
    const opened = (version: string) => sum(source, 'istio_tcp_connections_opened_total', { reporter: 'source', destination_version: version, request_protocol: 'tcp' });
    const total = opened('v1') + opened('v2');
    t.true(total >= flow.requests, `${total} connections from the gateway`);
    const v2share = opened('v2') / total;
    t.true(Math.abs(v2share - 0.2) < 0.08, `v2 took ${(100 * v2share).toFixed(1)} % (the route says 20 %)`);
    t.is(sum(source, 'istio_tcp_connections_closed_total', { reporter: 'source' }), sum(source, 'istio_tcp_connections_opened_total', { reporter: 'source' }), 'every connection closed');
    t.true(sum(source, 'istio_tcp_sent_bytes_total', { reporter: 'source' }) > 0);
    t.true(sum(source, 'istio_tcp_received_bytes_total', { reporter: 'source' }) > 0);
    t.false(source.some((s) => s.name.startsWith('istio_tcp_') && 'response_code' in s.labels), 'TCP metrics carry no response code');

    const v1 = await scrape(at('tcp-echo-v1-0').host, at('tcp-echo-v1-0').port);
    const inbound = v1.filter((s) => s.name === 'istio_tcp_connections_opened_total' && s.labels.reporter === 'destination');
    t.true(inbound.length > 0);
    for (const s of inbound) {
      t.is(s.labels.connection_security_policy, 'mutual_tls');
      t.is(s.labels.source_workload, 'istio-ingressgateway', 'the caller known through the in-band peer exchange');
      t.regex(s.labels.source_principal!, /^spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\//);
      t.is(s.labels.destination_principal, 'spiffe://cluster.local/ns/default/sa/tcp-echo');
      t.is(s.labels.destination_version, 'v1');
    }
    // Bytes as the echo sent them: each reply is the line with the version in front.
    const received = sum(v1, 'istio_tcp_received_bytes_total', { reporter: 'destination' });
    const sent = sum(v1, 'istio_tcp_sent_bytes_total', { reporter: 'destination' });
    t.is(sent - received, 3 * sum(v1, 'istio_tcp_connections_closed_total', { reporter: 'destination' }), '"v1 " in front of every line');

    // Each connection is an access-log line on both sides, as Envoy's tcp_proxy writes it.
    const tcpLines = mesh.access.filter((e) => e.protocol === null);
    const outbound = tcpLines.filter((e) => e.reporter === 'source');
    const inboundLines = tcpLines.filter((e) => e.reporter === 'destination');
    t.true(outbound.length >= flow.requests && inboundLines.length >= flow.requests, `${outbound.length} and ${inboundLines.length} lines`);
    t.true(outbound.every((e) => e.method === null && e.path === null && e.response_code === 0 && e.workload === 'istio-ingressgateway'
      && /^outbound\|9000\|v[12]\|tcp-echo\.default\.svc\.cluster\.local$/.test(e.upstream_cluster) && e.bytes_received > 0 && e.bytes_sent > e.bytes_received));
    // Addresses are read as the connection opens: a line written at close still has both ends.
    t.true(tcpLines.every((e) => /:\d+$/.test(e.upstream_local_address ?? '') && /:\d+$/.test(e.downstream_local_address ?? '') && /:\d+$/.test(e.downstream_remote_address ?? '')), 'every address field is filled');
    if (process.platform === 'linux') t.true(inboundLines.every((e) => /^127\.0\.0\.6:\d+$/.test(e.upstream_local_address ?? '')), 'the sidecar reaches its app from Istio\'s 127.0.0.6');
    t.true(inboundLines.every((e) => e.upstream_cluster === 'inbound|9000||' && /^outbound_\.9000_\.v[12]_\.tcp-echo\.default\.svc\.cluster\.local$/.test(e.requested_server_name ?? '')));
  } finally {
    await session.shutdown();
  }
});

test.serial('a tcp route to a subset with no pods is refused at the gateway with 503 UH, as a CONNECT answer', async (t) => {
  const mesh = await startMesh(await loadText(SCENARIO.replace('subset: v1}, weight: 80}', 'subset: v3}, weight: 80}').replace('weight: 20}', 'weight: 0}')), 8);
  try {
    const gateway = mesh.session.instances.get('istio-ingressgateway')!.started!.ingress!;
    t.is(await tcpExchange(gateway, 'tcp-echo:9000', 'by-hand.1'), 503);
    await mesh.session.flushTelemetry();
    await sleep(200);
    const line = mesh.access.find((e) => e.protocol === null && e.reporter === 'source');
    t.like(line, { response_flags: 'UH', response_code: 0, upstream_host: null, bytes_sent: 0 });
  } finally {
    await mesh.session.shutdown();
  }
});
