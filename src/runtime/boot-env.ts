// How a runtime hands a child program (sidecar, workload) its boot configuration: one
// JSON environment variable, the same on every runtime.

export function readBootEnv<T>(env: NodeJS.ProcessEnv, variable: string): T {
  const raw = env[variable];
  if (!raw) throw new Error(`${variable} is not set: this program is started by mesh-sim, not by hand`);
  return JSON.parse(raw) as T;
}
