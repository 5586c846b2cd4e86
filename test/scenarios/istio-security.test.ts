// Istio's security tasks, each run with the task's YAML, end with the outcome Istio's
// docs state; the scenarios' checks encode it, and these look closer at the logs.
import test from 'ava';
import { runShipped } from '../helpers/shipped.js';

test.serial('mTLS migration: PERMISSIVE lets the legacy client in, STRICT (namespace, then mesh) resets it, deleting lets it back', async (t) => {
  const { summary, access } = await runShipped(t, 'istio/mtls-migration');
  t.is(summary.checks.length, 8);
  t.is(summary.flows['in-mesh']!.errors, 0, 'the client with a sidecar is never refused');
  const legacy = summary.flows.legacy!;
  t.true(legacy.statuses['502']! > 100 && legacy.statuses['200']! > 100, JSON.stringify(legacy.statuses));
  // httpbin's sidecar logged the legacy calls it took (plaintext, no peer) and none it reset.
  const atHttpbin = access.filter((e) => e.reporter === 'destination' && e.destination_service === 'httpbin');
  t.true(atHttpbin.every((e) => e.response_code === 200));
  t.true(atHttpbin.some((e) => e.requested_server_name === null) && atHttpbin.some((e) => e.requested_server_name?.startsWith('outbound_.8000_._.httpbin')));
  t.false(access.some((e) => e.workload.startsWith('sleep-legacy')), 'a pod without a sidecar logs nothing');
});

test.serial('HTTP authorization: allow-nothing denies all, then each viewer policy opens one workload to one caller', async (t) => {
  const { summary, access } = await runShipped(t, 'istio/authorization');
  t.is(summary.checks.length, 9);
  const denied = access.filter((e) => e.response_code === 403 && e.reporter === 'destination');
  t.true(denied.length > 100, `${denied.length} denied`);
  t.true(denied.every((e) => e.response_code_details === 'rbac_access_denied_matched_policy[none]' && e.response_flags === '-' && e.upstream_host === null));
  for (const service of ['productpage', 'details', 'reviews', 'ratings']) t.true(denied.some((e) => e.destination_service === service), `${service} denied while closed`);
  const visitors = summary.flows.visitors!;
  t.true(visitors.statuses['403']! > 40, 'allow-nothing: the page itself is "RBAC: access denied"');
  t.true(visitors.degraded > 40, 'productpage-viewer alone: the page renders with errors for details and reviews');
});
