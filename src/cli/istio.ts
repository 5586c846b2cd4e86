// `mesh-sim istio FILE`: the Istio YAML a scenario means (its `mesh:` shorthand written
// out, its resources, and what its timeline applies and deletes), to apply on a cluster.

import { printScenarioIstio } from '../istio/print.js';
import { EXIT } from './exit-codes.js';
import { loadOrExplain } from './run.js';
import type { Output } from './validate.js';

export async function istioCommand(file: string, output: Output): Promise<number> {
  const loaded = await loadOrExplain(file, output);
  if (!loaded) return EXIT.badInput;
  output.out(printScenarioIstio(loaded.scenario, loaded.states).trimEnd());
  return EXIT.ok;
}
