// Istio's own resources as the policy language: YAML from Istio's docs loads unchanged,
// problems are said in Istio's field names at their file and line, and each field means
// what Istio makes of it.
import test from 'ava';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errors, load, warnings, yaml } from '../helpers/scenario.js';
import { loadScenarioFile } from '../../src/scenario/load.js';
import { ScenarioError, formatProblem } from '../../src/scenario/problems.js';
import { clusterPolicy, virtualHostFor, UNLIMITED } from '../../src/policy/config.js';
import type { Scenario } from '../../src/scenario/model.js';

const bookinfo = yaml`
  name: t
  services:
    productpage: {port: 9080, calls: [details, reviews]}
    details: {port: 9080}
    reviews:
      port: 9080
      versions: {v1: {}, v2: {calls: [ratings]}, v3: {calls: [ratings]}}
    ratings: {port: 9080}
`;

const routes = (scenario: Scenario, host: string) => virtualHostFor(scenario.config, host).routes;

test("the request-routing and fault-injection tasks' YAML loads unchanged, in every apiVersion", (t) => {
  const { scenario } = load(bookinfo + yaml`
    istio:
      - apiVersion: networking.istio.io/v1alpha3
        kind: VirtualService
        metadata:
          name: reviews
        spec:
          hosts:
            - reviews
          http:
          - match:
            - headers:
                end-user:
                  exact: jason
            route:
            - destination:
                host: reviews
                subset: v2
          - route:
            - destination:
                host: reviews
                subset: v1
      - apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: ratings
        spec:
          hosts:
          - ratings
          http:
          - match:
            - headers:
                end-user:
                  exact: jason
            fault:
              delay:
                percentage:
                  value: 100.0
                fixedDelay: 7s
            route:
            - destination:
                host: ratings
                subset: v1
          - route:
            - destination:
                host: ratings
                subset: v1
      - apiVersion: networking.istio.io/v1beta1
        kind: DestinationRule
        metadata:
          name: reviews
        spec:
          host: reviews
          subsets:
          - name: v1
            labels:
              version: v1
          - name: v2
            labels:
              version: v2
      - apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: ratings}
        spec:
          host: ratings
          subsets: [{name: v1, labels: {version: v1}}]
  `);
  const [jason, rest] = routes(scenario, 'reviews');
  t.deepEqual(jason!.matches[0]!.headers, [{ name: 'end-user', match: { kind: 'exact', value: 'jason' } }]);
  t.deepEqual(jason!.destinations, [{ host: 'reviews', subset: 'v2', weight: 100 }]);
  t.deepEqual(rest!.destinations, [{ host: 'reviews', subset: 'v1', weight: 100 }]);
  t.like(routes(scenario, 'ratings')[0]!.fault.delay, { percentage: 100, fixedDelayMs: 7000 });
  t.is(routes(scenario, 'ratings')[1]!.fault.delay, undefined, 'the fault is on the matched route only');
  t.like(jason!.ref, { rule: 'http[0]', origin: { kind: 'VirtualService', name: 'reviews', namespace: 'default' } });
  t.regex(jason!.ref.where!, /^test\.yaml:\d+$/);
  t.is(routes(scenario, 'details')[0]!.ref.origin, undefined, 'no VirtualService: the default route');
});

test('short and full host names both name a service', (t) => {
  const { scenario } = load(bookinfo + yaml`
    istio:
      - apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews}
        spec:
          hosts: [reviews.default.svc.cluster.local]
          http: [{route: [{destination: {host: reviews.default, subset: v1}}]}]
      - apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews, namespace: default}
        spec: {host: reviews.default.svc, subsets: [{name: v1, labels: {version: v1}}]}
  `);
  t.deepEqual(routes(scenario, 'reviews')[0]!.destinations, [{ host: 'reviews', subset: 'v1', weight: 100 }]);
  t.deepEqual(Object.keys(scenario.config.destinations), ['reviews']);
});

test("Istio's defaults and precedence: unset percentages inject nothing, attempts 0 turns retries off, a subset's policy replaces its host's", (t) => {
  const text = bookinfo + yaml`
    istio:
      - apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: ratings}
        spec:
          hosts: [ratings]
          http:
            - fault: {abort: {httpStatus: 500}, delay: {percent: 50, fixedDelay: 1s}}
              retries: {perTryTimeout: 1s}
              timeout: 0s
              route: [{destination: {host: ratings}}]
      - apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews}
        spec:
          host: reviews
          trafficPolicy:
            connectionPool: {tcp: {maxConnections: 0}, http: {http1MaxPendingRequests: 5, maxRequestsPerConnection: 1}}
            outlierDetection: {consecutive5xxErrors: 2}
          subsets:
            - {name: v1, labels: {version: v1}}
            - name: v2
              labels: {version: v2}
              trafficPolicy: {connectionPool: {tcp: {maxConnections: 3}}}
  `;
  const { scenario } = load(text);
  const [route] = routes(scenario, 'ratings');
  t.like(route!.fault.abort, { percentage: 0, httpStatus: 500 }, 'an abort without percentage aborts none');
  t.like(route!.fault.delay, { percentage: 50 }, 'the deprecated integer percent still counts for a delay');
  t.is(route!.retries.attempts, 0, 'retries without attempts: Istio reads 0 and turns them off');
  t.is(route!.timeoutMs, undefined, 'timeout 0s means none');
  const host = clusterPolicy(scenario.config, 'reviews', undefined);
  t.is(host.connectionPool.maxConnections, UNLIMITED, '0 means unset: unlimited');
  t.is(host.connectionPool.http1MaxPendingRequests, 5);
  t.is(host.connectionPool.maxRequestsPerConnection, 1);
  t.like(host.outlierDetection, { consecutive5xxErrors: 2, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 10 });
  t.deepEqual(clusterPolicy(scenario.config, 'reviews', 'v1'), host, 'a subset without a policy has its host\'s');
  const v2 = clusterPolicy(scenario.config, 'reviews', 'v2');
  t.is(v2.connectionPool.maxConnections, 3);
  t.is(v2.connectionPool.http1MaxPendingRequests, UNLIMITED, "the subset's connectionPool replaces the host's whole");
  t.deepEqual(v2.outlierDetection, host.outlierDetection, 'and what it does not set is inherited');
  const found = warnings(text);
  t.true(found.some((w) => /fault\.abort: warning: no request is aborted: without `percentage`/.test(w)), found.join('\n'));
  t.true(found.some((w) => /retries: warning: no `attempts`: Istio reads that as 0/.test(w)));
  t.true(found.some((w) => /delay\.percent: warning: deprecated/.test(w)));
});

test("problems are said in Istio's field names, with a did-you-mean, at their line", (t) => {
  t.deepEqual(errors(bookinfo + yaml`
    istio:
      - apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews}
        spec:
          hosts: [reviews]
          http:
            - fault: {delay: {percentage: 10, fixeDelay: 1s}}
              route: [{destination: {host: reviews, subset: v1}}]
            - route: [{destination: {host: reviews}}]
              corsPolicy: {allowOrigins: [{exact: x}]}
              mirror_percentage: {value: 5}
      - apiVersion: networking.istio.io/v2
        kind: VirtualServce
        metadata: {name: x}
        spec: {}
      - apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: ratings}
        spec: {host: ratigns}
  `), [
    'test.yaml:16:39: istio[0].spec.http[0].fault.delay.percentage: Istio writes a percentage as `{value: 10}`',
    'test.yaml:16:43: istio[0].spec.http[0].fault.delay.fixeDelay: unknown key `fixeDelay` (did you mean `fixedDelay`?); expected one of: percent, percentage, fixedDelay, exponentialDelay',
    'test.yaml:20:11: istio[0].spec.http[1].mirror_percentage: unknown key `mirror_percentage` (did you mean `mirrorPercentage`?); expected one of: name, match, route, redirect, directResponse, delegate, rewrite, timeout, retries, fault, mirror, mirrors, mirrorPercent, mirrorPercentage, corsPolicy, headers',
    'test.yaml:22:11: istio[1].kind: unknown kind `VirtualServce` (did you mean `VirtualService`?); mesh-sim takes VirtualService, DestinationRule, PeerAuthentication, AuthorizationPolicy',
    'test.yaml:28:18: istio[2].spec.host: no service `ratigns` (did you mean `ratings`?); services: productpage, details, reviews, ratings',
  ]);
});

test('a deprecated field Istio still reads is checked as Istio checks it, not dropped', (t) => {
  const at = (value: string) => errors(bookinfo + yaml`
    istio:
      - apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: ratings}
        spec:
          hosts: [ratings]
          http:
            - fault: {delay: {percent: ${value}, fixedDelay: 1s}}
              route: [{destination: {host: ratings}}]
  `);
  t.deepEqual(at('150'), ['test.yaml:16:36: istio[0].spec.http[0].fault.delay.percent: a percentage from 0 to 100, not 150']);
  t.deepEqual(at('[[-1]]'), ['test.yaml:16:36: istio[0].spec.http[0].fault.delay.percent: expected a percentage, got a list']);
  t.deepEqual(at('50'), [], 'a good value loads, with its deprecation warning');
});

test('a field mesh-sim cannot honour is an error that says why; one that changes nothing here is a warning', (t) => {
  const text = bookinfo + yaml`
    istio:
      - apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews}
        spec:
          hosts: [reviews]
          gateways: [bookinfo-gateway]
          tcp: [{route: [{destination: {host: reviews}}]}]
          http:
            - route: [{destination: {host: reviews}}]
              fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 1}}}
              retries: {attempts: 2, retryRemoteLocalities: true}
      - apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews}
        spec:
          host: reviews
          trafficPolicy:
            loadBalancer: {consistentHash: {httpHeaderName: x-user}}
            connectionPool: {tcp: {tcpKeepalive: {time: 7200s}}}
      - apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: bookinfo-gateway}
        spec: {}
  `;
  const found = errors(text);
  t.true(found.some((e) => /spec\.gateways: gateway `bookinfo-gateway`: mesh-sim has no Gateway resources/.test(e)), found.join('\n'));
  t.true(found.some((e) => /fault\.abort\.grpcStatus: mesh-sim cannot honour this field/.test(e)));
  t.true(found.some((e) => /loadBalancer\.consistentHash: mesh-sim cannot honour this field/.test(e)));
  t.true(found.some((e) => /istio\[2\]\.kind: mesh-sim does not take kind Gateway: mesh-sim's traffic enters through its own ingress gateway/.test(e)));
  const warned = warnings(text);
  t.true(warned.some((w) => /retryRemoteLocalities: warning: a mesh-sim mesh has one locality/.test(w)), warned.join('\n'));
  t.true(warned.some((w) => /tcpKeepalive: warning: keepalive probes/.test(w)));
});

test('a tcp service: an echo service reached by flows, routed by tcp routes; HTTP behaviour and HTTP calls to it are refused at their lines', (t) => {
  const tcp = yaml`
    name: t
    services:
      web: {calls: [echo]}
      echo:
        protocol: tcp
        errorRate: 0.1
        versions: {v1: {}, v2: {calls: [web]}}
      legacy: {protocol: tcp, sidecar: false}
    istio:
      - apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: echo}
        spec:
          hosts: [echo]
          http: [{route: [{destination: {host: echo}}]}]
          tcp:
            - match: [{port: 8080, destinationSubnets: [10.0.0.0/8]}]
              route: [{destination: {host: echo, subset: v1}, weight: 100}]
      - apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: web}
        spec:
          hosts: [web]
          tcp: [{route: [{destination: {host: web}}]}]
    traffic:
      - {to: echo, rps: 5}
  `;
  const found = errors(tcp);
  t.true(found.some((e) => /^test\.yaml:3:\d+: services\.web\.calls\[0\]: echo is a tcp service: an HTTP call cannot reach it/.test(e)), found.join('\n'));
  t.true(found.some((e) => /services\.echo\.errorRate: a tcp service is an echo service/.test(e)));
  t.true(found.some((e) => /services\.echo\.calls: a tcp service is an echo service/.test(e)));
  t.true(found.some((e) => /services\.legacy\.sidecar: a tcp service outside the mesh is not simulated yet/.test(e)));
  t.true(found.some((e) => /spec\.tcp\[0\]\.match\[0\]\.destinationSubnets: mesh-sim cannot honour this field/.test(e)));
  const fixed = tcp.replace('web: {calls: [echo]}', 'web: {}').replace(/^ *errorRate: 0\.1\n/m, '').replace('{v1: {}, v2: {calls: [web]}}', '{v1: {}, v2: {}}')
    .replace(', destinationSubnets: [10.0.0.0/8]', '').replace('legacy: {protocol: tcp, sidecar: false}', 'legacy: {}');
  t.deepEqual(errors(fixed), []);
  t.true(warnings(fixed).some((w) => /spec\.http: warning: echo is a tcp service: its `http` routes apply to no request/.test(w)), warnings(fixed).join('\n'));
  t.true(warnings(fixed).some((w) => /spec\.tcp: warning: web speaks HTTP: its `tcp` routes apply to no connection/.test(w)));
  const config = load(fixed).scenario.config;
  t.deepEqual(config.virtualHosts.echo!.tcpRoutes!.map((r) => ({ ports: r.ports, to: r.destinations.map((d) => `${d.host}/${d.subset}:${d.weight}`) })), [{ ports: [8080], to: ['echo/v1:100'] }]);
});

test("references are checked as istioctl analyze would: undefined subsets, subsets with no pod, two VirtualServices for one host", (t) => {
  const text = bookinfo + yaml`
    istio:
      - apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews}
        spec:
          hosts: [reviews]
          http: [{route: [{destination: {host: reviews, subset: v4}}]}]
      - apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews-too}
        spec:
          hosts: [reviews]
          http: [{route: [{destination: {host: reviews}}]}]
      - apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: ratings}
        spec:
          hosts: [ratings]
          http: [{route: [{destination: {host: ratings, subset: v2}}]}]
      - apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: ratings}
        spec: {host: ratings, subsets: [{name: v2, labels: {version: v2}}]}
  `;
  t.deepEqual(errors(text), [
    'test.yaml:20:15: istio[1].spec.hosts[0]: VirtualService reviews (test.yaml:10) already routes reviews: Istio\'s sidecars use only one VirtualService per host (istioctl analyze: IST0109)',
  ]);
  t.deepEqual(warnings(text).filter((w) => /subset/.test(w)), [
    'test.yaml:15:61: istio[0].spec.http[0].route[0].destination.subset: warning: no DestinationRule defines subset `v4` of reviews: Envoy has no such cluster, so these requests answer 503 NC (istioctl analyze: IST0101)',
    'test.yaml:27:61: istio[2].spec.http[0].route[0].destination.subset: warning: subset `v2` of ratings selects no running pod (version=v2): these requests answer 503 UH',
  ]);
});

test('a host takes its policy from the mesh: shorthand or from Istio resources, not both', (t) => {
  const found = errors(bookinfo + yaml`
    mesh:
      reviews: {timeout: 1s}
    istio:
      - apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews}
        spec: {host: reviews}
  `);
  t.is(found.length, 1);
  t.regex(found[0]!, /istio\[0\]\.spec\.host: the `mesh:` shorthand \(test\.yaml:\d+\) already configures reviews/);
});

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-sim-include-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

test('include: kubectl-style files relative to the scenario, with globs and `---` documents; a later resource of the same name replaces an earlier one', async (t) => {
  const dir = await tree({
    'scenario.yaml': bookinfo + 'include: [istio/*.yaml]\n',
    'istio/a-all-v1.yaml': yaml`
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata:
        name: reviews
      spec:
        hosts: [reviews]
        http: [{route: [{destination: {host: reviews, subset: v1}}]}]
      ---
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: {name: reviews}
      spec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}, {name: v3, labels: {version: v3}}]}
      ---
    `,
    'istio/b-v3.yaml': yaml`
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: {name: reviews}
      spec:
        hosts: [reviews]
        http: [{route: [{destination: {host: reviews, subset: v3}}]}]
    `,
  });
  const { scenario } = await loadScenarioFile(join(dir, 'scenario.yaml'));
  t.deepEqual(scenario.istio.map((r) => `${r.kind}/${r.name}`), ['VirtualService/reviews', 'DestinationRule/reviews']);
  t.deepEqual(routes(scenario, 'reviews')[0]!.destinations, [{ host: 'reviews', subset: 'v3', weight: 100 }], 'b-v3.yaml was applied after a-all-v1.yaml');
  t.regex(routes(scenario, 'reviews')[0]!.ref.where!, /istio\/b-v3\.yaml:\d+$/, 'a rule names the included file and line');
});

test('a problem in an included file is reported at that file, line and column', async (t) => {
  const dir = await tree({
    'scenario.yaml': bookinfo + 'include: [rules.yaml, missing.yaml, "none/*.yaml"]\n',
    'rules.yaml': yaml`
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: {name: ratings}
      spec: {hosts: [ratings], http: [{route: [{destination: {host: ratings}}]}]}
      ---
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: {name: reviews}
      spec:
        hosts: [reviews]
        http:
          - timeout: soon
            route: [{destination: {host: reviews}}]
    `,
  });
  const error = await t.throwsAsync(loadScenarioFile(join(dir, 'scenario.yaml')), { instanceOf: ScenarioError });
  const lines = error!.problems.map(formatProblem);
  t.true(lines.some((l) => l.endsWith('scenario.yaml:9:23: include[1]: no such file: `missing.yaml` (relative to ' + dir + ')')), lines.join('\n'));
  t.true(lines.some((l) => l.endsWith('scenario.yaml:9:37: include[2]: no file matches `none/*.yaml` (relative to ' + dir + ')')));
  t.true(lines.some((l) => l === `${join(dir, 'rules.yaml')}:12:16: spec.http[0].timeout: \`soon\` is not a duration: write a number and a unit (ms, s, m, h), e.g. 250ms, 1.5s, 1m`), lines.join('\n'));
});

test('the timeline applies and deletes resources as kubectl does, each state compiled in advance', async (t) => {
  const timeline = (extra: string) => bookinfo + yaml`
    istio:
      - apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews}
        spec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}
    timeline:
      - at: 1s
        apply: [v2.yaml]
      - at: 2s
        apply:
          - apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews}
            spec: {hosts: [reviews], http: [{route: [{destination: {host: reviews, subset: v1}}]}]}
      - at: 3s
        delete: [{kind: vs, name: reviews}]
  ` + extra;
  const dir = await tree({
    'scenario.yaml': timeline('  - at: 4s\n    delete: [{kind: VirtualService, name: ratings}]\n'),
    'v2.yaml': yaml`
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: {name: reviews}
      spec: {hosts: [reviews], http: [{route: [{destination: {host: reviews, subset: v2}}]}]}
    `,
  });
  const error = await t.throwsAsync(loadScenarioFile(join(dir, 'scenario.yaml')), { instanceOf: ScenarioError });
  t.deepEqual(error!.problems.map(formatProblem).map((l) => l.slice(l.indexOf('scenario.yaml'))), [
    'scenario.yaml:26:14: timeline[3].delete[0]: no VirtualService `ratings` to delete (`mesh:` shorthand is changed with `set`)',
  ]);
  await writeFile(join(dir, 'scenario.yaml'), timeline(''));
  const { scenario, states } = await loadScenarioFile(join(dir, 'scenario.yaml'));
  t.is(routes(scenario, 'reviews')[0]!.ref.origin, undefined, 'at the start no VirtualService routes reviews');
  t.deepEqual(routes(states.get(0)!, 'reviews')[0]!.destinations[0]!.subset, 'v2', 'applied from a file, as kubectl apply -f');
  t.deepEqual(routes(states.get(1)!, 'reviews')[0]!.destinations[0]!.subset, 'v1', 'replaced by kind and name');
  t.is(routes(states.get(2)!, 'reviews')[0]!.ref.origin, undefined, 'deleted: the default route again');
  t.is(scenario.timeline[0]!.apply!.length, 1);
  t.deepEqual(scenario.timeline[2]!.delete, [{ kind: 'vs', namespace: 'default', name: 'reviews' }]);
});

test('`set` cannot change Istio resources, and says to apply them', (t) => {
  t.deepEqual(errors(bookinfo + yaml`
    timeline:
      - at: 1s
        set: {istio: []}
  `), ['test.yaml:11:11: timeline[0].set.istio: a timeline `set` can change services, mesh, traffic; not `istio`: change Istio resources with `apply` and `delete`, as kubectl does']);
});

test("every shipped Istio task's scenario and YAML loads without errors", async (t) => {
  const { readdir } = await import('node:fs/promises');
  const files = (await readdir('scenarios/istio')).filter((f) => f.endsWith('.yaml'));
  t.true(files.length >= 7, files.join(', '));
  for (const f of files) {
    const { scenario } = await loadScenarioFile(join('scenarios/istio', f));
    t.true(scenario.checks.length + scenario.timeline.filter((e) => e.check).length >= 3, `${f} judges itself`);
  }
});
