// The runtimes mesh-sim knows, by name: what `--runtime` chooses from, what `down` and
// a run's reaper ask to clean up. A new runtime is one module exporting its
// RuntimeDefinition, and one line here.

import type { RuntimeDefinition, RuntimeFactory } from './runtime.js';
import { processRuntime } from './process/process-runtime.js';
import { dockerRuntime } from './docker/docker-runtime.js';

export const RUNTIMES = {
  process: processRuntime,
  docker: dockerRuntime,
} as const satisfies Record<string, RuntimeDefinition>;

export type RuntimeName = keyof typeof RUNTIMES;
export const RUNTIME_NAMES = Object.keys(RUNTIMES) as RuntimeName[];

export function isRuntimeName(name: string): name is RuntimeName {
  return Object.hasOwn(RUNTIMES, name);
}

export function runtimeFactory(name: RuntimeName): RuntimeFactory {
  return RUNTIMES[name].create;
}
