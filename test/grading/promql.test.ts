import test from 'ava';
import { checkQuery, emptyValue, growth } from '../../src/grading/promql.js';
import { parseCheck } from '../../src/scenario/check-expr.js';

// The check language in PromQL over Istio's standard metrics, at the destination.

const q = (text: string, seconds = 60, ns = 'default') => checkQuery(parseCheck(text), seconds, ns);

const ratings = 'istio_requests_total{reporter="destination",destination_service_name="ratings",destination_service_namespace="default"}';

test("a counter's growth over the range counts a series born inside it in full", (t) => {
  t.is(growth('m{a="1"}', '60s'), '((m{a="1"} - m{a="1"} offset 60s) or (m{a="1"} unless m{a="1"} offset 60s))');
});

test('requests and rps count istio_requests_total at the destination, for a service or one version', (t) => {
  t.deepEqual(q('requests(ratings) < 1'), { promql: `sum(${growth(ratings, '60s')})` });
  const v2 = 'istio_requests_total{reporter="destination",destination_service_name="reviews",destination_service_namespace="bookinfo",destination_version="v2"}';
  t.deepEqual(q('rps(reviews, v2) > 1', 95, 'bookinfo'), { promql: `sum(${growth(v2, '95s')}) / 95` });
});

test("error_rate counts 5xx and no-response (0) over all; latency is the histogram quantile of Istio's buckets", (t) => {
  const errors = (q('error_rate(productpage) < 0.05') as { promql: string }).promql;
  t.regex(errors, /^sum\(\(\(istio_requests_total\{[^}]*response_code=~"0\|5\.\."\}/);
  t.regex(errors, /\) \/ sum\(/);
  const p99 = (q('p99(productpage) < 2s', 30) as { promql: string }).promql;
  t.regex(p99, /^histogram_quantile\(0\.99, sum by \(le\) \(\(\(istio_request_duration_milliseconds_bucket\{reporter="destination",destination_service_name="productpage",destination_service_namespace="default"\} - /);
  t.regex((q('p50(reviews) < 100') as { promql: string }).promql, /^histogram_quantile\(0\.5, /);
});

test("what Istio's metrics cannot answer is said, not guessed", (t) => {
  t.regex((q('p99(flow:jason) < 4s') as { reason: string }).reason, /client/);
  t.regex((q('degraded_rate(flow:jason) < 0.1') as { reason: string }).reason, /client|fallback/);
});

test('no data is zero for a count or rate, and no value for a ratio or percentile', (t) => {
  t.is(emptyValue(parseCheck('requests(a) < 1')), 0);
  t.is(emptyValue(parseCheck('rps(a) < 1')), 0);
  t.true(Number.isNaN(emptyValue(parseCheck('error_rate(a) < 0.1'))));
  t.true(Number.isNaN(emptyValue(parseCheck('p99(a) < 1s'))));
});
