import test from 'ava';
import { CheckSyntaxError, compare, parseCheck } from '../../src/scenario/check-expr.js';

test('a check is parsed into function, service, version, operator and value', (t) => {
  t.like(parseCheck('p99(productpage) < 2s'), { func: 'p99', service: 'productpage', op: '<', value: 2000 });
  t.like(parseCheck('error_rate(reviews, v2) <= 0.05'), { func: 'error_rate', service: 'reviews', version: 'v2', op: '<=', value: 0.05 });
  t.like(parseCheck('rps(ratings)>10'), { func: 'rps', service: 'ratings', op: '>', value: 10 });
  t.like(parseCheck('requests(details) >= 1'), { func: 'requests', op: '>=', value: 1 });
  t.like(parseCheck('p50(details) < 250'), { func: 'p50', value: 250 }, 'a bare number for a latency is milliseconds');
});

test('check syntax errors say what was expected and where', (t) => {
  const cases: Array<[string, RegExp, number]> = [
    ['p95(productpage) < 2s', /unknown check function `p95` \(did you mean `p90`\?\)/, 0],
    ['p99 productpage < 2s', /expected `\(` at column 5/, 4],
    ['p99(productpage < 2s', /expected `\)`/, 16],
    ['p99(productpage) = 2s', /only <, <=, > and >= compare/, 17],
    ['p99(productpage) <', /expected a value after `<`/, 18],
    ['rps(productpage) > 2s', /rps is not a latency/, 19],
    ['error_rate(productpage) < 5', /error_rate is a fraction from 0 to 1/, 26],
    ['p99(productpage) < soon', /neither a number nor a duration/, 19],
  ];
  for (const [text, message, offset] of cases) {
    const error = t.throws(() => parseCheck(text), { instanceOf: CheckSyntaxError }, text);
    t.regex(error!.message, message, text);
    t.is(error!.offset, offset, text);
  }
});

test('comparisons follow their operator exactly at the bound', (t) => {
  t.true(compare(1, '<=', 1));
  t.false(compare(1, '<', 1));
  t.true(compare(1, '>=', 1));
  t.false(compare(1, '>', 1));
});
