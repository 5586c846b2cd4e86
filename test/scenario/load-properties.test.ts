import test from 'ava';
import fc from 'fast-check';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { parseScenario } from '../../src/scenario/load.js';
import { ScenarioError } from '../../src/scenario/problems.js';
import { LIMITS } from '../../src/scenario/limits.js';
import type { Scenario } from '../../src/scenario/model.js';
import { PACKAGE_ROOT } from '../../src/version.js';

// The loader's promise, checked on random and mutated input: every text either loads
// into a scenario that can run, or is refused with problems that name the file and a
// line; nothing else escapes. The case counts are in the test names, so a report
// says how hard each property was tried.

const RUNS = { text: 400, yaml: 400, mutated: 1000, generated: 300 } as const;
/**
 * CI tries the same cases every time, so a landing is judged on its own change; a
 * run elsewhere draws new ones, and a failure prints the seed that finds it again.
 */
const SEEDED = process.env.CI ? { seed: 20261129 } : {};

/**
 * What loads must be runnable: every number finite and not negative, every duration
 * one a timer can hold, every size one a buffer can hold, every regex linear.
 */
function runnable(scenario: Scenario): void {
  const walk = (value: unknown, path: string): void => {
    if (typeof value === 'number') {
      if (!Number.isFinite(value) || value < 0) throw new Error(`${path} is ${value}`);
      if (/(ms|Ms|timeout|interval|delay)$/i.test(path) && value > LIMITS.durationMs) throw new Error(`${path} is ${value} ms`);
      if (/(responseSize|bytes)$/i.test(path) && value > LIMITS.responseBytes) throw new Error(`${path} is ${value} bytes`);
      if (/interval$/i.test(path) && value === 0) throw new Error(`${path} is 0: the sweep would spin`);
    } else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`));
    else if (value instanceof Map) for (const [k, v] of value) walk(v, `${path}.${String(k)}`);
    else if (value && typeof value === 'object' && !(value instanceof RegExp)) {
      // `raw` and `document` are the user's own YAML, kept verbatim to print and export:
      // nothing runs from them (a field mesh-sim ignores may hold any value there).
      for (const [k, v] of Object.entries(value)) if (k !== 'raw' && k !== 'document') walk(v, `${path}.${k}`);
    }
  };
  walk(scenario, 'scenario');
  const instances = scenario.services.reduce((n, s) => n + s.versions.reduce((m, v) => m + v.replicas, 0), 0);
  if (instances > LIMITS.instances) throw new Error(`${instances} instances loaded`);
  for (const flow of scenario.traffic) {
    for (const [k, v] of Object.entries(flow.headers)) if (/[\r\n]/.test(k + v)) throw new Error(`header ${k} holds CR/LF`);
  }
}

/** Loads text; returns 'ok' or 'rejected', and lets any other throw escape. */
function outcome(text: string, file = 'prop.yaml'): 'ok' | 'rejected' {
  try {
    const { scenario, states } = parseScenario(text, file);
    runnable(scenario);
    for (const state of states.values()) runnable(state);
    return 'ok';
  } catch (error) {
    if (error instanceof ScenarioError) {
      for (const p of error.problems) {
        if (p.file === '' || p.line < 0 || p.message === '') throw new Error(`malformed problem: ${JSON.stringify(p)}`);
      }
      return 'rejected';
    }
    throw error;
  }
}

/** Every shipped scenario, Istio's tasks too, at its own path so its includes resolve. */
const scenarioDirs = [join(PACKAGE_ROOT, 'scenarios'), join(PACKAGE_ROOT, 'scenarios', 'istio')];
const shipped = scenarioDirs.flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => ({ file: join(dir, f), text: readFileSync(join(dir, f), 'utf8') })));

test(`any text at all either loads or is rejected with ScenarioError (${RUNS.text} cases)`, (t) => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
    outcome(text);
  }), { numRuns: RUNS.text, ...SEEDED });
  t.pass();
});

test(`any YAML value either loads or is rejected with ScenarioError (${RUNS.yaml} cases)`, (t) => {
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
    outcome(stringify(value));
  }), { numRuns: RUNS.yaml, ...SEEDED });
  t.pass();
});

type Doc = unknown;
type Step = (string | number)[];

/** Every path to a node in a plain-data document. */
function paths(doc: Doc, prefix: Step = []): Step[] {
  const out: Step[] = [prefix];
  if (Array.isArray(doc)) doc.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (doc && typeof doc === 'object') for (const [k, v] of Object.entries(doc)) out.push(...paths(v, [...prefix, k]));
  return out;
}

function mutate(doc: Doc, path: Step, change: (parent: Record<string | number, unknown>, key: string | number) => void): Doc {
  const copy = structuredClone(doc);
  if (path.length === 0) return copy;
  let node = copy as Record<string | number, unknown>;
  for (const part of path.slice(0, -1)) node = node[part] as Record<string | number, unknown>;
  change(node, path[path.length - 1]!);
  return copy;
}

const mutation = fc.oneof(
  fc.constant({ kind: 'delete' as const }),
  fc.record({ kind: fc.constant('replace' as const), value: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({ kind: fc.constant('rename' as const), suffix: fc.string({ minLength: 1, maxLength: 3 }) }),
  fc.record({ kind: fc.constant('string' as const), value: fc.constantFrom('5ms', '-1', '', 'v9', '100%', 'nope', '1e309', '0s') }),
  // What broke runs before validate refused it: past a timer's range, past a buffer's,
  // a regex that backtracks forever elsewhere, a header that splits a request.
  fc.record({ kind: fc.constant('string' as const), value: fc.constantFrom('2147483648ms', '25h', '5GiB', '(a+)+$', 'x\r\nInjected: 1', '0ms') }),
  fc.record({ kind: fc.constant('replace' as const), value: fc.constantFrom(0, 2 ** 31, 50_000, -0.5, 1e308) }),
);

test(`mutated shipped scenarios either load runnable or are rejected with ScenarioError (${RUNS.mutated} cases)`, (t) => {
  t.true(shipped.length >= 10, 'scenarios/ and scenarios/istio/ hold scenarios');
  const docs = shipped.map(({ text }) => parseYaml(text) as Doc);
  fc.assert(fc.property(
    fc.nat({ max: docs.length - 1 }),
    fc.array(fc.tuple(fc.nat(), mutation), { minLength: 1, maxLength: 4 }),
    (which, changes) => {
      let doc: Doc = docs[which];
      for (const [pick, m] of changes) {
        const all = paths(doc).filter((p) => p.length > 0);
        if (all.length === 0) break;
        const path = all[pick % all.length]!;
        doc = mutate(doc, path, (parent, key) => {
          if (m.kind === 'delete') {
            if (Array.isArray(parent)) parent.splice(key as number, 1);
            else delete parent[key];
          } else if (m.kind === 'replace') parent[key] = m.value;
          else if (m.kind === 'string') parent[key] = m.value;
          else if (!Array.isArray(parent)) {
            parent[`${String(key)}${m.suffix}`] = parent[key];
            delete parent[key];
          }
        });
      }
      outcome(stringify(doc), shipped[which]!.file);
    },
  ), { numRuns: RUNS.mutated, ...SEEDED });
  t.pass();
});

// ---- generated valid scenarios ---------------------------------------------------

const serviceNames = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/), { minLength: 1, maxLength: 6 });
const durationText = fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.constantFrom('ms', 's')).map(([n, u]) => `${n}${u}`);

/** A valid scenario: calls only go to later services (no cycles), weights sum to 100. */
const validScenario = serviceNames.chain((names) =>
  fc.record({
    versions: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: names.length, maxLength: names.length }),
    callTargets: fc.array(fc.array(fc.nat(), { maxLength: 3 }), { minLength: names.length, maxLength: names.length }),
    latency: fc.array(durationText, { minLength: names.length, maxLength: names.length }),
    errorRate: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: names.length, maxLength: names.length }),
    split: fc.integer({ min: 0, max: 100 }),
    rps: fc.double({ min: 0.1, max: 500, noNaN: true }),
    at: fc.array(fc.integer({ min: 0, max: 120 }), { maxLength: 5 }),
  }).map((g) => {
    const services: Record<string, unknown> = {};
    names.forEach((name, i) => {
      const later = names.slice(i + 1);
      const calls = later.length === 0 ? [] : g.callTargets[i]!.map((n) => later[n % later.length]!);
      const versions = Object.fromEntries(Array.from({ length: g.versions[i]! }, (_, v) => [`v${v + 1}`, {}]));
      services[name] = { latency: g.latency[i], errorRate: g.errorRate[i], calls, versions };
    });
    const first = names[0]!;
    const mesh = g.versions[0]! >= 2
      ? { [first]: { routes: [{ route: [{ version: 'v1', weight: g.split }, { version: 'v2', weight: 100 - g.split }] }] } }
      : {};
    const timeline = [...g.at].sort((a, b) => a - b).map((s) => ({ at: `${s}s`, say: `at ${s}s` }));
    return { name: 'generated', services, mesh, traffic: [{ to: first, rps: g.rps }], timeline, checks: [`rps(${first}) > 0`] };
  }),
);

test(`generated valid scenarios load, with every service and version in place (${RUNS.generated} cases)`, (t) => {
  fc.assert(fc.property(validScenario, (doc) => {
    const { scenario } = parseScenario(stringify(doc), 'prop.yaml');
    const services = doc.services as Record<string, { versions: Record<string, unknown> }>;
    if (scenario.services.length !== Object.keys(services).length) throw new Error('services lost');
    for (const s of scenario.services) {
      if (s.versions.length !== Object.keys(services[s.name]!.versions).length) throw new Error(`versions of ${s.name} lost`);
    }
  }), { numRuns: RUNS.generated, ...SEEDED });
  t.pass();
});
