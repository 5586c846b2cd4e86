/**
 * The limits a scenario is held to, in one place. A scenario is hand-written and runs
 * on one machine: anything past these is a mistake or an attack, and `validate` says so
 * with the file, line and field before anything starts. FORMAT.md's "Limits" section
 * lists the same numbers; test/scenario/limits.test.ts keeps them in step.
 */
export const LIMITS = {
  /** Bytes of one scenario file. */
  scenarioBytes: 1024 * 1024,
  /** Files an `include:` may name, and their bytes in all. */
  includedFiles: 100,
  includedBytes: 1024 * 1024,
  /** YAML alias uses (weighted by size): yaml's guard against "billion laughs". */
  aliasCount: 100,
  /** Services in one scenario. */
  services: 1000,
  /** Instances in all (services × versions × replicas). */
  instances: 2000,
  /** Calls one service makes per request. */
  callsPerRequest: 100,
  /** Traffic flows, timeline events, checks. */
  flows: 100,
  events: 1000,
  checks: 1000,
  /** A day: well inside what a timer holds (2^31 ms); longer would fire at once. */
  durationMs: 24 * 3_600_000,
  /** The largest response a sample service sends. */
  responseBytes: 64 * 1024 * 1024,
  /** Characters of one regular expression (RE2: linear in the input; this bounds the program). */
  regexLength: 500,
} as const;
