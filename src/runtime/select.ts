// Choosing a runtime by name, for the CLI.

import type { RuntimeFactory } from '../mesh/session.js';
import { ProcessRuntime } from './process/process-runtime.js';
import { DockerRuntime } from './docker/docker-runtime.js';

export const RUNTIME_NAMES = ['process', 'docker'] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

export function runtimeFactory(name: RuntimeName): RuntimeFactory {
  switch (name) {
    case 'process':
      return (hooks, runId) => new ProcessRuntime(hooks, runId);
    case 'docker':
      return (hooks, runId) => new DockerRuntime(hooks, runId);
  }
}
