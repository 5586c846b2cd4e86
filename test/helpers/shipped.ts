// Running a shipped scenario start to end with `mesh-sim run`, as CI and users do.

import type { ExecutionContext } from 'ava';
import { runCli } from './cli.js';

export async function runShipped(t: ExecutionContext, name: string): Promise<void> {
  const result = await runCli(['run', `scenarios/${name}.yaml`, '--json'], { timeoutMs: 240_000 });
  const summary = JSON.parse(result.stdout) as { checks: Array<{ expr: string; at?: string; ok: boolean; value: number | null }> };
  for (const check of summary.checks) t.true(check.ok, `${check.at ? `[${check.at}] ` : ''}${check.expr}: measured ${check.value}`);
  t.true(summary.checks.length >= 2, 'the scenario judges itself');
  t.is(result.code, 0, result.stderr.split('\n').filter((l) => /check|warning|FAIL/.test(l)).join('\n'));
}
