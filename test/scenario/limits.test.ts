import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errors, load, yaml } from '../helpers/scenario.js';
import { LIMITS } from '../../src/scenario/limits.js';
import { PACKAGE_ROOT } from '../../src/version.js';

// The inputs that once broke a run after `validate` passed them: each is now refused
// at its file, line and column with the limit it passes, or (timeout: 0s) means what
// Istio means by it.

const two = (extra: string) => yaml`
  name: t
  services:
    a: {calls: [b]}
    b: {}
  traffic: [{to: a, rps: 1}]
` + extra;

test('outlierDetection.interval 0 is refused: the sweep would spin', (t) => {
  t.deepEqual(errors(two(yaml`
    mesh:
      b: {outlierDetection: {consecutive5xxErrors: 1, interval: 0s}}
  `)), ['test.yaml:7:61: mesh.b.outlierDetection.interval: interval must be more than 0s: Envoy sweeps for hosts to bring back this often']);
});

test('durations past a day and sizes past 64MiB are refused, not wrapped', (t) => {
  const problems = errors(two(yaml`
    mesh:
      b: {timeout: 2147483648ms}
    timeline:
      - {at: 25h, say: late}
  `).replace('b: {}', 'b: {responseSize: 5GiB}'));
  t.deepEqual(problems, [
    'test.yaml:4:21: services.b.responseSize: `5GiB` is more than the largest size a scenario may name (64MiB)',
    'test.yaml:7:16: mesh.b.timeout: `2147483648ms` is longer than the longest duration a scenario may name (24h)',
    'test.yaml:9:10: timeline[0].at: `25h` is longer than the longest duration a scenario may name (24h)',
  ]);
});

test('timeout: 0s means no timeout, as in Istio', (t) => {
  const { scenario } = load(two(yaml`
    mesh:
      b: {timeout: 0s}
  `));
  const routes = scenario.config.virtualHosts.b?.routes ?? [];
  t.true(routes.length > 0);
  for (const r of routes) t.is(r.timeoutMs, undefined);
});

test('a backtracking regex is taken and matched in linear time (RE2), a long one is refused', (t) => {
  t.deepEqual(errors(two(yaml`
    mesh:
      b:
        routes: [{match: {headers: {x: {regex: "(a+)+$"}}}, route: [{version: v1}]}]
  `).replace('b: {}', 'b: {versions: {v1: {}}}')), []);
  const long = 'a'.repeat(LIMITS.regexLength + 1);
  const refused = errors(two(yaml`
    mesh:
      b:
        routes: [{match: {headers: {x: {regex: "${long}"}}}, route: [{version: v1}]}]
  `).replace('b: {}', 'b: {versions: {v1: {}}}'));
  t.is(refused.length, 1);
  t.regex(refused[0]!, new RegExp(`^test\\.yaml:8:44: mesh\\.b\\.routes\\[0\\]\\.match\\.headers\\.x\\.regex: .* ${LIMITS.regexLength} characters$`));
});

test('CR or LF in a traffic header is refused', (t) => {
  const problems = errors(yaml`
    name: t
    services: {a: {}}
    traffic: [{to: a, rps: 1, headers: {x-user: "jason\\r\\nInjected: 1"}}]
  `);
  t.is(problems.length, 1);
  t.regex(problems[0]!, /^test\.yaml:3:\d+: traffic\[0\]\.headers\.x-user: .*(CR|line break)/);
});

test('more instances than one machine runs is refused at `services`', (t) => {
  const services = Array.from({ length: 50 }, (_, i) => `  s${i}: {replicas: 50}`).join('\n');
  const problems = errors(`name: t\nservices:\n${services}\n`);
  t.deepEqual(problems, [`test.yaml:2:1: services: 2500 instances in all (services × versions × replicas); one machine runs at most ${LIMITS.instances}`]);
});

test('a chain of 900 services is checked without recursion, and more than the limit is refused early', (t) => {
  const chain = (n: number) => 'name: t\nservices:\n' + Array.from({ length: n }, (_, i) => `  s${i}: {calls: [${i + 1 < n ? `s${i + 1}` : ''}]}`).join('\n') + '\n';
  t.deepEqual(errors(chain(900)), []);
  const cycle = chain(900).replace('s899: {calls: []}', 's899: {calls: [s0]}');
  t.is(errors(cycle).length, 1);
  t.regex(errors(cycle)[0]!, /go round in a circle|cycle/);
  const started = process.hrtime.bigint();
  const many = errors(chain(LIMITS.services + 1));
  t.deepEqual(many, [`test.yaml:2:1: services: holds ${LIMITS.services + 1}; a scenario has at most ${LIMITS.services} services`]);
  // Refused before the services are parsed one by one: judged loosely, the machine is shared.
  t.true(Number(process.hrtime.bigint() - started) / 1e6 < 5000);
});

test('a service making more calls per request than the limit is refused', (t) => {
  const calls = Array.from({ length: LIMITS.callsPerRequest + 1 }, () => 'b').join(', ');
  const problems = errors(two('').replace('a: {calls: [b]}', `a: {calls: [${calls}]}`));
  t.is(problems.length, 1);
  t.regex(problems[0]!, new RegExp(`services\\.a\\.calls: ${LIMITS.callsPerRequest + 1} calls; a service makes at most ${LIMITS.callsPerRequest}`));
});

test('FORMAT.md names every limit the loader enforces', (t) => {
  const format = readFileSync(join(PACKAGE_ROOT, 'scenarios', 'FORMAT.md'), 'utf8');
  const section = format.slice(format.indexOf('## Limits'));
  t.true(format.includes('## Limits'), 'FORMAT.md has a Limits section');
  const shown = (n: number) => [String(n), n.toLocaleString('en-US'), `${n / 1024 / 1024} MiB`, `${n / 3_600_000}h`].some((s) => section.includes(s));
  for (const [name, value] of Object.entries(LIMITS)) t.true(shown(value), `FORMAT.md's Limits section states ${name} (${value})`);
});
