// Running a shipped scenario start to end with `mesh-sim run`, as CI and users do.

import type { ExecutionContext } from 'ava';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonOf, runCli } from './cli.js';
import type { Summary } from '../../src/mesh/summary.js';
import type { AccessLogEntry } from '../../src/telemetry/access-log.js';
import { measuredText } from '../../src/telemetry/judge.js';

export interface ShippedRun {
  summary: Summary;
  /** Every sidecar's access log. */
  access: AccessLogEntry[];
}

/** Runs `scenarios/NAME.yaml`, asserts each of its own checks held, and hands back what it measured. */
export async function runShipped(t: ExecutionContext, name: string): Promise<ShippedRun> {
  const log = join(await mkdtemp(join(tmpdir(), 'mesh-sim-shipped-')), 'access.jsonl');
  const result = await runCli(['run', `scenarios/${name}.yaml`, '--json', '--access-log', log], { timeoutMs: 240_000 });
  const summary = jsonOf<Summary>(result);
  for (const check of summary.checks) t.true(check.ok, `${check.at ? `[${check.at}] ` : ''}${check.expr}: ${measuredText(check)}`);
  t.true(summary.checks.length >= 2, 'the scenario judges itself');
  t.is(result.code, 0, result.stderr.split('\n').filter((l) => /check|warning|FAIL/.test(l)).join('\n'));
  const access = (await readFile(log, 'utf8')).split('\n').filter((l) => l.startsWith('{') && l.includes('"response_code"')).map((l) => JSON.parse(l) as AccessLogEntry);
  return { summary, access };
}
