// Tests that need a real Prometheus: they run where it is installed, and where it must be
// (CI, or MESH_SIM_REQUIRE_ALL=1), where its absence fails them instead of skipping.

import test, { type ExecutionContext } from 'ava';
import { findOnPath } from '../../src/runtime/which.js';
import { loadText, startMesh, type TestMesh } from './mesh.js';

export const REQUIRED = process.env.MESH_SIM_REQUIRE_ALL === '1' || process.env.CI === 'true';
export const prometheus = findOnPath('prometheus');
export const withPrometheus = prometheus || REQUIRED ? test.serial : test.skip;

/** True (and the test failed, saying how to fix it) when Prometheus is not installed. */
export function missingPrometheus(t: ExecutionContext): boolean {
  if (prometheus) return false;
  t.fail('prometheus is not installed: .ci/run installs it (apt-get install prometheus)');
  return true;
}

/** A mesh of `scenario` on processes with a real Prometheus scraping every sidecar each second; stopped at the test's end. */
export async function meshWithPrometheus(t: ExecutionContext, scenario: string): Promise<{ mesh: TestMesh; url: string }> {
  const mesh = await startMesh(await loadText(scenario));
  t.teardown(() => mesh.session.shutdown());
  const observability = await mesh.session.startObservability(1);
  if (!observability.prometheus) throw new Error(`Prometheus did not start: ${observability.notes.join('; ')}`);
  return { mesh, url: observability.prometheus };
}
