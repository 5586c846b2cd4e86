// `mesh-sim istio FILE`: the YAML printed is Istio's own, and reads back to the same
// configuration the scenario runs with.
import test from 'ava';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadScenarioFile } from '../../src/scenario/load.js';
import { printResources, printScenarioIstio } from '../../src/istio/print.js';
import { fileResources } from '../../src/istio/documents.js';
import { compileResources } from '../../src/istio/compile.js';
import { runCli } from '../helpers/cli.js';

async function shipped(): Promise<string[]> {
  const top = (await readdir('scenarios')).filter((f) => f.endsWith('.yaml')).map((f) => join('scenarios', f));
  const istio = (await readdir('scenarios/istio')).filter((f) => f.endsWith('.yaml')).map((f) => join('scenarios/istio', f));
  return [...top, ...istio];
}

/** The config a scenario's resources compile to, without where each rule was written. */
function bare(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (key, v) => (key === 'where' || key === 'origin' || key === 'label' || key === 'timeoutWhere' ? undefined : v)));
}

test('the YAML printed for every shipped scenario reads back to the same configuration, at every step of its timeline', async (t) => {
  for (const file of await shipped()) {
    const { scenario, states } = await loadScenarioFile(file);
    for (const state of [scenario, ...states.values()]) {
      const problems: string[] = [];
      const again = fileResources(printResources(state.istio), 'printed.yaml', (p) => {
        if (p.severity === 'error') problems.push(`${p.path}: ${p.message}`);
      });
      t.deepEqual(problems, [], file);
      t.deepEqual(bare(compileResources(again, state.services).config), bare(state.config), file);
    }
    t.regex(printScenarioIstio(scenario, states), /^# The Istio resources scenario /);
  }
});

test('`mesh-sim istio` prints the shorthand as a VirtualService and a DestinationRule, quoted for kubectl', async (t) => {
  const result = await runCli(['istio', 'scenarios/canary.yaml']);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /kind: VirtualService\nmetadata:\n {2}name: checkout\n {2}namespace: default/);
  t.regex(result.stdout, /kind: DestinationRule/);
  t.regex(result.stdout, /exact: "yes"/, 'a value YAML 1.1 would read as a boolean is quoted');
  t.regex(result.stdout, /# At 10s: Step 1/);
  const bad = await runCli(['istio', 'nope.yaml']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /nope\.yaml: no such file/);
});
