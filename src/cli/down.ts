// `mesh-sim down`: removes what runs left behind when neither mesh-sim nor its reaper
// could clean up (both killed, a crash, a closed laptop lid). Each runtime cleans up
// its own: Docker containers and networks found by label, processes found by their run
// records. Only dead runs', unless --all.

import { RUNTIMES } from '../runtime/registry.js';
import { EXIT } from './exit-codes.js';
import type { Output } from './validate.js';

export interface DownOptions {
  all?: boolean;
}

export async function downCommand(options: DownOptions, output: Output): Promise<number> {
  const reports = await Promise.all(Object.values(RUNTIMES).map(async (runtime) => ({ runtime, report: await runtime.cleanup(options.all ? 'all' : 'dead') })));
  const parts = reports.filter(({ report }) => report.removed !== '').map(({ report }) => report.removed);
  const unreachable = reports.filter(({ report }) => !report.reachable).map(({ runtime }) => runtime.name);
  const scope = options.all ? '' : ' (runs still going are left alone; --all removes those too)';
  const unchecked = unreachable.length > 0 ? ` (${unreachable.join(' and ')} is not reachable here, so it was not checked)` : '';
  output.out(parts.length > 0 ? `removed ${parts.join(', and ')}${scope}` : `nothing to remove: no run left anything behind${unchecked}${scope}`);
  return EXIT.ok;
}
