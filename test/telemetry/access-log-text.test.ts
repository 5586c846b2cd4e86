// Istio's TEXT access-log encoding, as `kubectl logs POD -c istio-proxy` shows it: the
// fields of Istio's EnvoyTextLogFormat in its order, "-" for what Envoy does not have.
import test from 'ava';
import { istioTextLine } from '../../src/telemetry/access-log-text.js';
import type { AccessLogEntry } from '../../src/telemetry/access-log.js';
import { accessLogEncodingOption } from '../../src/cli/access-log-file.js';
import { UserError } from '../../src/cli/exit-codes.js';

const outbound: AccessLogEntry = {
  start_time: '2026-11-29T10:00:01.250Z', route_name: 'default', method: 'GET', path: '/reviews/0', protocol: 'HTTP/1.1',
  response_code: 503, response_flags: 'UO', response_code_details: 'upstream_reset_before_response_started{overflow}',
  connection_termination_details: null, upstream_transport_failure_reason: null, bytes_received: 0, bytes_sent: 81, duration: 2,
  upstream_service_time: null, x_forwarded_for: null, user_agent: 'fortio.org/fortio-1.60', request_id: '5d2c7c36-0a6b-4c8e-9d3f-1b2a3c4d5e6f',
  authority: 'reviews:9080', upstream_host: null, upstream_cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local',
  upstream_local_address: null, downstream_local_address: '10.96.0.12:9080', downstream_remote_address: '127.0.0.1:40312',
  requested_server_name: null, upstream_request_attempt_count: 1, traceparent: '00-' + 'a'.repeat(32) + '-' + 'b'.repeat(16) + '-01',
  reporter: 'source', workload: 'productpage-v1', instance: 'productpage-v1-0', destination_service: 'reviews.default.svc.cluster.local',
};

test("an entry reads as Istio's TEXT line: quoted request line, flags and details, dashes where Envoy has nothing", (t) => {
  t.is(istioTextLine(outbound),
    '[2026-11-29T10:00:01.250Z] "GET /reviews/0 HTTP/1.1" 503 UO upstream_reset_before_response_started{overflow} - "-" 0 81 2 - '
    + '"-" "fortio.org/fortio-1.60" "5d2c7c36-0a6b-4c8e-9d3f-1b2a3c4d5e6f" "reviews:9080" "-" outbound|9080|v1|reviews.default.svc.cluster.local '
    + '- 10.96.0.12:9080 127.0.0.1:40312 - default');
  const tcp = { ...outbound, method: null, path: null, protocol: null, response_code: 0, response_flags: '-', response_code_details: null, route_name: null, authority: null, user_agent: null, request_id: null };
  t.regex(istioTextLine(tcp), /^\[[^\]]+\] "- - -" 0 - - - "-" 0 81 2 - "-" "-" "-" "-" "-" outbound\|/, "a TCP connection's line, as tcp_proxy writes it");
});

test('--access-log-encoding takes json or text in either case, and only with --access-log', (t) => {
  t.is(accessLogEncodingOption(undefined, undefined), 'json');
  t.is(accessLogEncodingOption('TEXT', 'a.log'), 'text');
  t.is(accessLogEncodingOption('json', 'a.log'), 'json');
  t.throws(() => accessLogEncodingOption('yaml', 'a.log'), { instanceOf: UserError, message: /json or text.*not `yaml`/ });
  t.throws(() => accessLogEncodingOption('text', undefined), { instanceOf: UserError, message: /give --access-log FILE/ });
});
