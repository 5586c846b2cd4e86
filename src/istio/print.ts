// The Istio YAML a scenario means, as a person would apply it on a real cluster: the
// resources in force at the start (the `mesh:` shorthand written out as Istio's own), then
// what each timeline event applies and deletes, as the kubectl commands it stands for.

import { stringify } from 'yaml';
import type { Scenario } from '../scenario/model.js';
import { formatDuration } from '../scenario/units.js';
import { resourceKey, type IstioResource } from './resources.js';

/** One resource as kubectl takes it: apiVersion, kind, metadata (with its namespace), spec. */
export function resourceDocument(r: IstioResource): Record<string, unknown> {
  const raw = r.raw as { metadata?: Record<string, unknown>; spec?: unknown };
  const { uid: _u, resourceVersion: _r, generation: _g, creationTimestamp: _c, managedFields: _m, ...metadata } = raw.metadata ?? {};
  return { apiVersion: r.apiVersion, kind: r.kind, metadata: { ...metadata, namespace: r.namespace }, spec: raw.spec };
}

/** YAML as kubectl reads it: its parser is YAML 1.1, where an unquoted `yes` or `on` is a boolean. */
export function kubectlYaml(value: unknown): string {
  return stringify(value, { version: '1.1', lineWidth: 0 });
}

export function printResources(resources: readonly IstioResource[]): string {
  return resources.map((r) => `# ${r.kind} ${r.name}: ${r.origin.shorthand ? `the \`mesh:\` shorthand at ${r.origin.where}` : r.origin.where}\n${kubectlYaml(resourceDocument(r))}`).join('---\n');
}

/** The whole story: the start, then each event's change, as YAML with kubectl comments. */
export function printScenarioIstio(scenario: Scenario, states: ReadonlyMap<number, Scenario>): string {
  const parts: string[] = [];
  parts.push(`# The Istio resources scenario ${scenario.name} means (${scenario.file}).\n# At the start: kubectl apply -f this file (up to the first timeline section).\n`);
  parts.push(scenario.istio.length > 0 ? printResources(scenario.istio) : '# (none: every host takes Istio\'s default route and traffic policy)\n');
  let before = scenario.istio;
  for (const event of scenario.timeline) {
    const after = states.get(event.index);
    if (!after) continue;
    const was = new Map(before.map((r) => [resourceKey(r), JSON.stringify(resourceDocument(r))]));
    const now = new Set(after.istio.map(resourceKey));
    const changed = after.istio.filter((r) => was.get(resourceKey(r)) !== JSON.stringify(resourceDocument(r)));
    const gone = before.filter((r) => !now.has(resourceKey(r)));
    if (changed.length === 0 && gone.length === 0) {
      before = after.istio;
      continue;
    }
    const at = formatDuration(event.atMs);
    let section = `---\n# ${'='.repeat(70)}\n# At ${at}${event.say ? `: ${event.say.replace(/\s+/g, ' ').slice(0, 200)}` : ''}\n`;
    for (const r of gone) section += `# kubectl delete ${r.kind.toLowerCase()} ${r.name}\n`;
    if (changed.length > 0) section += `# kubectl apply -f - <<EOF (what follows, to the next section)\n${printResources(changed)}`;
    parts.push(section);
    before = after.istio;
  }
  return parts.join('');
}
