import test from 'ava';
import { mkdtemp, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errors, warnings, yaml } from '../helpers/scenario.js';
import { loadScenarioFile } from '../../src/scenario/load.js';
import { ScenarioError, formatProblem } from '../../src/scenario/problems.js';

const minimal = (extra = '') => yaml`
  name: t
  services:
    a: {calls: [b]}
    b:
      versions: {v1: {}, v2: {}}
` + extra;

test('a misspelt key is reported at the key, with the key it meant', (t) => {
  t.deepEqual(errors(yaml`
    name: t
    services:
      a:
        latncy: 5ms
  `), ['test.yaml:4:5: services.a.latncy: unknown key `latncy` (did you mean `latency`?); expected one of: port, replicas, latency, errorRate, errorStatus, responseSize, calls, image, command, sidecar, protocol, serviceAccount, versions']);
});

test('a misspelt top-level key is reported with the section it meant', (t) => {
  t.deepEqual(errors(minimal('trafic: []\n')), [
    'test.yaml:6:1: trafic: unknown key `trafic` (did you mean `traffic`?); a scenario has: name, description, seed, duration, services, mesh, istio, include, traffic, timeline, checks',
  ]);
});

test('every problem is reported, not only the first, in file order', (t) => {
  const found = errors(yaml`
    name: T
    services:
      a: {latency: fast, errorRate: 2}
    traffic:
      - {to: a, rps: -1}
  `);
  t.deepEqual(found, [
    'test.yaml:1:7: name: `T` is not a valid scenario name: use lower-case letters, digits and dashes, starting and ending with a letter or digit (at most 50)',
    'test.yaml:3:16: services.a.latency: `fast` is not a duration: write a number and a unit (ms, s, m, h), e.g. 250ms, 1.5s, 1m',
    'test.yaml:3:33: services.a.errorRate: a fraction runs from 0 to 1, not 2 (for 2 % write 0.02)',
    'test.yaml:5:18: traffic[0].rps: a request rate (requests per second) runs from 0 to 5000, not -1',
  ]);
});

test('a misspelt key does not hide a wrong name beside it', (t) => {
  t.deepEqual(errors(yaml`
    name: t
    services:
      a:
        calls: [detials]
        latncy: 5ms
      details: {}
  `), [
    'test.yaml:4:13: services.a.calls[0]: no service `detials` (did you mean `details`?); services: a, details',
    'test.yaml:5:5: services.a.latncy: unknown key `latncy` (did you mean `latency`?); expected one of: port, replicas, latency, errorRate, errorStatus, responseSize, calls, image, command, sidecar, protocol, serviceAccount, versions',
  ]);
});

test('a missing required field is reported at the mapping that lacks it', (t) => {
  t.deepEqual(errors('services: {a: {}}\n'), ['test.yaml:1:1: `name` is required']);
  t.deepEqual(errors(yaml`
    name: t
    services:
      a: {latency: {mean: 5ms}}
  `), ['test.yaml:3:7: services.a.latency.stddev: required, but missing'], 'at the key of the mapping that lacks it');
});

test('a call, route, mirror, flow, event or check naming a missing service or version is an error', (t) => {
  t.deepEqual(errors(minimal(yaml`
    mesh:
      b:
        routes: [{route: [{version: v3}]}]
        mirror: {version: v9}
      c: {timeout: 1s}
    traffic: [{to: d, rps: 1}]
    timeline:
      - {at: 1s, kill: {service: b, version: v4}}
      - {at: 2s, restart: {service: e}}
      - {at: 3s, check: "rps(b, v7) > 1"}
    checks: ["p99(f) < 1s"]
  `)), [
    'test.yaml:8:33: mesh.b.routes[0].route[0].version: b has no version `v3`; its versions: v1, v2',
    'test.yaml:9:23: mesh.b.mirror.version: b has no version `v9`; its versions: v1, v2',
    'test.yaml:10:3: mesh.c: no service `c`; services: a, b',
    'test.yaml:11:16: traffic[0].to: no service `d`; services: a, b',
    'test.yaml:13:42: timeline[0].kill.version: b has no version `v4`; its versions: v1, v2',
    'test.yaml:14:33: timeline[1].restart.service: no service `e`; services: a, b',
    'test.yaml:15:21: timeline[2].check: b has no version `v7`; its versions: v1, v2',
    'test.yaml:16:10: checks[0]: no service `f`; services: a, b',
  ]);
});

test('route weights must sum to 100', (t) => {
  t.deepEqual(errors(minimal(yaml`
    mesh:
      b:
        routes:
          - route: [{version: v1, weight: 60}, {version: v2, weight: 30}]
          - route: [{version: v1}, {version: v2}]
          - route: [{version: v1, weight: 50}, {version: v2}]
  `)), [
    'test.yaml:9:16: mesh.b.routes[0].route: weights sum to 90, not 100',
    'test.yaml:10:16: mesh.b.routes[1].route: 2 destinations need a weight each, summing to 100',
    'test.yaml:11:16: mesh.b.routes[2].route: give every destination a weight (they must sum to 100), or none when there is only one',
  ]);
});

test('a timeline out of order is an error at the late event', (t) => {
  t.deepEqual(errors(minimal(yaml`
    timeline:
      - {at: 20s, say: one}
      - {at: 10s, say: two}
  `)), ['test.yaml:8:10: timeline[1].at: out of order: 10s comes after an event at 20s; list events in time order']);
});

test('a check naming an unknown function is an error with the nearest one', (t) => {
  t.deepEqual(errors(minimal('checks: ["p95(a) < 1s"]\n')), [
    'test.yaml:6:10: checks[0]: unknown check function `p95` (did you mean `p90`?); known: rps, error_rate, p50, p90, p99, requests, degraded_rate',
  ]);
});

test('calls that go round in a circle are an error', (t) => {
  t.deepEqual(errors(yaml`
    name: t
    services:
      a: {calls: [b]}
      b: {calls: [c]}
      c: {calls: [a]}
  `), ['test.yaml:5:15: services.c.calls[0]: calls go round in a circle (a → b → c → a): every request would call forever']);
});

test('an unknown retry condition and a bad regex are errors', (t) => {
  t.deepEqual(errors(minimal(yaml`
    mesh:
      b:
        retries: {retryOn: "5xx,conect-failure"}
        routes: [{match: {headers: {x: {regex: "(("}}}, route: [{version: v1}]}]
  `)), [
    'test.yaml:8:24: mesh.b.retries.retryOn: unknown retry condition `conect-failure` (did you mean `connect-failure`?); known: 5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, unavailable, cancelled, retriable-status-codes, reset-before-request, or a status code such as 503',
    'test.yaml:9:44: mesh.b.routes[0].match.headers.x.regex: not a regular expression Envoy takes (RE2 syntax): error parsing regexp: missing closing ): `((`',
  ]);
});

test('a bad `set` patch is reported inside the patch, once', (t) => {
  t.deepEqual(errors(minimal(yaml`
    timeline:
      - at: 5s
        set:
          mesh: {a: {timeout: 3}}
          seed: 1
      - at: 6s
        set:
          mesh: {b: {routes: [{route: [{version: v5}]}]}}
      - at: 7s
        set: {services: {z: {}}}
  `)), [
    'test.yaml:9:27: timeline[0].set.mesh.a.timeout: a duration needs a unit: write `3ms` or `3s`',
    'test.yaml:10:7: timeline[0].set.seed: a timeline `set` can change services, mesh, traffic; not `seed`',
    'test.yaml:13:46: timeline[1].set.mesh.b.routes[0].route[0].version: b has no version `v5`; its versions: v1, v2',
    'test.yaml:15:22: timeline[2].set.services.z: a timeline `set` cannot add service `z`: the mesh\'s instances are fixed when it starts (use kill and restart to stop and start them)',
  ]);
});

test('a `set` may not change which instances run', (t) => {
  t.deepEqual(errors(minimal(yaml`
    timeline:
      - at: 5s
        set: {services: {b: {versions: {v1: {replicas: 3}}}}}
      - at: 6s
        set: {services: {a: null}}
  `)), [
    "test.yaml:8:22: timeline[0].set.services.b: a timeline `set` cannot change b's versions, replicas, port, image or command: the mesh's instances are fixed when it starts (use kill and restart to stop and start them)",
    'test.yaml:10:22: timeline[1].set.services.a: a timeline `set` cannot remove service `a`: the mesh\'s instances are fixed when it starts (use kill and restart to stop and start them)',
  ]);
  t.deepEqual(errors(minimal(yaml`
    timeline:
      - at: 5s
        set: {services: {b: {latency: 1s, errorRate: 0.5, versions: {v2: {latency: 2s}}}}}
  `)), [], 'behaviour (latency, errors, calls) may change');
});

test('YAML syntax errors, duplicate keys and tabs are reported at their line', (t) => {
  t.deepEqual(errors('name: t\nservices:\n  a: {}\n  a: {}\n'), ['test.yaml:4:3: Map keys must be unique: a key appears twice in the same mapping']);
  t.deepEqual(errors('name: t\nservices:\n\ta: {}\n'), ['test.yaml:3:1: Tabs are not allowed as indentation: indent with spaces']);
  const broken = errors('name: t\nservices: {a: [1, 2}\n');
  t.true(broken.length > 0);
  t.true(broken.every((line) => /^test\.yaml:2:\d+: not valid YAML: /.test(line)), broken.join('\n'));
});

test('an empty file, a lone value and a list are clear errors', (t) => {
  t.deepEqual(errors(''), ['test.yaml:1:1: the file is empty: a scenario needs at least `name` and `services`']);
  t.deepEqual(errors('# only a comment\n'), ['test.yaml:1:1: the file is empty: a scenario needs at least `name` and `services`']);
  t.deepEqual(errors('hello\n'), ['test.yaml:1:1: a scenario is a mapping of name, services, mesh, traffic...; this file holds a single value']);
  t.deepEqual(errors('- a\n- b\n'), ['test.yaml:1:1: a scenario is a mapping of name, services, mesh, traffic...; this file holds a list']);
});

test('a YAML bomb is refused before it expands', (t) => {
  const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const name = String.fromCharCode(97 + i);
    levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  const bomb = levels.join('\n') + '\nname: t\nservices: {x: {}}\n';
  t.deepEqual(errors(bomb), ['test.yaml:1:1: aliases expand past a sane size (a "billion laughs" YAML bomb?): a scenario needs no more than a few aliases']);
});

test('a few ordinary aliases are fine', (t) => {
  t.deepEqual(errors(yaml`
    name: t
    services:
      a: &svc {latency: 5ms}
      b: *svc
  `), []);
});

test('files that are missing, unreadable, directories, binary or huge are clear errors', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-sim-load-'));
  const huge = join(dir, 'huge.yaml');
  await writeFile(huge, 'a'.repeat(10 * 1024 * 1024));
  const binary = join(dir, 'binary.yaml');
  await writeFile(binary, Buffer.from([0x6e, 0x00, 0x01, 0x02]));
  const locked = join(dir, 'locked.yaml');
  await writeFile(locked, 'name: t\n');
  await chmod(locked, 0o000);
  const cases: Array<[string, RegExp]> = [
    [join(dir, 'missing.yaml'), /missing\.yaml: no such file$/],
    [dir, /: is a directory, not a scenario file$/],
    [huge, /huge\.yaml: is 10\.0 MiB; a scenario is at most 1 MiB of hand-written YAML$/],
    [binary, /binary\.yaml: is not a text file \(it holds NUL bytes\)$/],
  ];
  if (process.getuid?.() !== 0) cases.push([locked, /locked\.yaml: cannot be read: permission denied$/]);
  for (const [file, message] of cases) {
    const error = await t.throwsAsync(loadScenarioFile(file), { instanceOf: ScenarioError });
    t.regex(error!.problems.map(formatProblem).join('\n'), message);
  }
});

test('validate warns where a rule will not do what it seems to', (t) => {
  const found = warnings(yaml`
    name: t
    services:
      a: {calls: [b]}
      b: {errorRate: 0.3}
    mesh:
      b:
        timeout: 1s
        retries: {attempts: 3, perTryTimeout: 2s}
        fault: {abort: {percentage: 100, httpStatus: 503}}
  `);
  t.deepEqual(found, [
    'test.yaml:8:14: mesh.b.retries: warning: these retries never happen: every request is aborted by fault.abort, and injected aborts are not retried',
    "test.yaml:8:14: mesh.b.retries: warning: b's own 500s (errorRate 0.3) are not retried: retryOn (connect-failure,refused-stream,unavailable,cancelled) has no 5xx",
    'test.yaml:8:14: mesh.b.retries: warning: perTryTimeout 2s is not shorter than timeout 1s: the whole request times out before a retry can start',
  ]);
  t.deepEqual(errors(yaml`
    name: t
    services:
      a: {calls: [b]}
      b: {errorRate: 0.3}
    mesh:
      b:
        timeout: 1s
        retries: {attempts: 3, perTryTimeout: 2s}
        fault: {abort: {percentage: 100, httpStatus: 503}}
  `), [], 'warnings alone do not make a scenario invalid');
});

test('a route after a catch-all route is never used, and says so', (t) => {
  t.deepEqual(warnings(minimal(yaml`
    mesh:
      b:
        routes:
          - route: [{version: v1}]
          - match: {headers: {x: {exact: y}}}
            route: [{version: v2}]
  `)), ['test.yaml:10:9: mesh.b.routes[1]: warning: this route is never used: the route before it (test.yaml:9) matches every request (first match wins)']);
});
