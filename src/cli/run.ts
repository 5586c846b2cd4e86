// `mesh-sim run FILE`: the mesh without the UI, for CI. Progress and narration go to
// stderr; the summary to stdout (JSON with --json); the exit code says whether the
// scenario's checks held. Ctrl-C stops everything and still prints what ran.

import { loadScenarioFile, type LoadedScenario } from '../scenario/load.js';
import { ScenarioError, formatProblem } from '../scenario/problems.js';
import { formatDuration, parseDuration } from '../scenario/units.js';
import { freshSeed } from '../policy/decide.js';
import { Recorder, RecordingFileError, recordingReport } from '../record/recorder.js';
import { MeshSession } from '../mesh/session.js';
import { formatSummary, sessionSummary } from '../mesh/summary.js';
import { InstanceStartError, RuntimeUnavailableError } from '../runtime/runtime.js';
import { runtimeFactory, RUNTIME_NAMES, type RuntimeName } from '../runtime/registry.js';
import { MAX_NODES } from '../runtime/process/process-runtime.js';
import { clock } from '../tui/model.js';
import { EXIT, UserError } from './exit-codes.js';
import { forwardingFrom, forwardingReport, OtlpConfigError, type Forwarding } from '../telemetry/forward/setup.js';
import type { Output } from './validate.js';
import { measuredText } from '../telemetry/judge.js';
import { AccessLogFile, accessLogEncodingOption } from './access-log-file.js';

export interface RunOptions extends SessionFlags {
  duration?: string;
  json?: boolean;
  accessLog?: string;
  /** How --access-log writes access entries: Istio's JSON or TEXT encoding. */
  accessLogEncoding?: string;
  /** Start Prometheus (and Grafana on Docker) beside the mesh. */
  prometheus?: boolean;
}

/** `--jaeger` starts a container: refused before anything starts on a runtime without them. */
export function jaegerOption(jaeger: boolean | undefined, runtime: string): boolean {
  if (jaeger && runtime !== 'docker') {
    throw new UserError('--jaeger starts Jaeger all-in-one in Docker beside the mesh: add --runtime docker.\n' +
      '  On the process runtime, send the spans to a Jaeger of your own: --otlp-endpoint http://127.0.0.1:4318');
  }
  return jaeger === true;
}

/** `--record FILE`: the file made before anything starts (never over an existing one). */
export async function recorderOption(file: string | undefined): Promise<Recorder | undefined> {
  if (file === undefined) return undefined;
  try {
    return await Recorder.create(file);
  } catch (error) {
    if (error instanceof RecordingFileError) throw new UserError(error.message);
    throw error;
  }
}

/** `--otlp-endpoint` (or OTEL_EXPORTER_OTLP_*), checked before anything starts. */
export function forwardingOption(endpoint: string | undefined): Forwarding | undefined {
  try {
    return forwardingFrom(endpoint);
  } catch (error) {
    if (error instanceof OtlpConfigError) throw new UserError(error.message);
    throw error;
  }
}

/** Runs without a given duration last this long. */
export const DEFAULT_RUN_MS = 30_000;

export function parseSeed(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) > 4_294_967_295) throw new UserError(`--seed takes a whole number from 0 to 4294967295, not \`${text}\``);
  return Number(text);
}

export function parseRuntime(text: string | undefined): RuntimeName {
  const name = text ?? 'process';
  if (!(RUNTIME_NAMES as readonly string[]).includes(name)) throw new UserError(`--runtime is one of ${RUNTIME_NAMES.join(', ')}, not \`${name}\``);
  return name as RuntimeName;
}

/** `--nodes N`: a whole number of node processes, 1 to MAX_NODES. */
export function parseNodes(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_NODES) throw new UserError(`--nodes takes a whole number from 1 to ${MAX_NODES}, not \`${text}\``);
  return Number(text);
}

/** The options `run` and `up` share, all checked before anything starts. */
export interface SessionFlags {
  seed?: string;
  runtime?: string;
  /** Process runtime: how many node processes host the pods. */
  nodes?: string;
  /** Also send every span to this OTLP/HTTP collector. */
  otlpEndpoint?: string;
  /** Start Jaeger all-in-one beside the mesh (Docker). */
  jaeger?: boolean;
  /** Record the run to this file, for `mesh-sim replay`. */
  record?: string;
}

export interface PreparedSession {
  loaded: LoadedScenario;
  /** Built, not started: the caller starts it and owns its shutdown. */
  session: MeshSession;
  seed: number;
  runtime: RuntimeName;
  forwarding: Forwarding | undefined;
  jaeger: boolean;
  recorder: Recorder | undefined;
}

/**
 * What `run` and `up` do alike before a mesh starts: every flag checked, the scenario
 * loaded (its problems printed; undefined if it has any), the recording file made, and
 * the session built with the seed the run will print. `retention` says how many
 * seconds of telemetry the session keeps, given the scenario.
 */
export async function prepareSession(file: string, flags: SessionFlags, output: Output, retention: (scenario: LoadedScenario['scenario']) => number): Promise<PreparedSession | undefined> {
  const seedOption = parseSeed(flags.seed);
  const runtime = parseRuntime(flags.runtime);
  const nodes = parseNodes(flags.nodes);
  const forwarding = forwardingOption(flags.otlpEndpoint);
  const jaeger = jaegerOption(flags.jaeger, runtime);
  const loaded = await loadOrExplain(file, output);
  if (!loaded) return undefined;
  const seed = seedOption ?? loaded.scenario.seed ?? freshSeed();
  const recorder = await recorderOption(flags.record);
  const session = new MeshSession(loaded, {
    runtimeFactory: runtimeFactory(runtime),
    runtimeOptions: { nodes },
    seed,
    retentionSeconds: retention(loaded.scenario),
    forward: forwarding?.forwarder,
    tap: recorder,
  });
  recorder?.attach(session, runtime);
  return { loaded, session, seed, runtime, forwarding, jaeger, recorder };
}

export async function loadOrExplain(file: string, output: Output): Promise<LoadedScenario | undefined> {
  try {
    const loaded = await loadScenarioFile(file);
    for (const warning of loaded.warnings) output.err(formatProblem(warning));
    return loaded;
  } catch (error) {
    if (!(error instanceof ScenarioError)) throw error;
    for (const problem of error.problems) output.err(formatProblem(problem));
    return undefined;
  }
}

export async function runCommand(file: string, options: RunOptions, output: Output): Promise<number> {
  let durationMs: number | undefined;
  if (options.duration !== undefined) {
    durationMs = parseDuration(options.duration);
    if (durationMs === undefined || durationMs <= 0) throw new UserError(`--duration takes a duration such as 30s or 2m, not \`${options.duration}\``);
  }
  const encoding = accessLogEncodingOption(options.accessLogEncoding, options.accessLog);
  const accessLog = options.accessLog === undefined ? undefined
    : await AccessLogFile.open(options.accessLog, encoding, (message) => output.err(`  warning: ${message}`));
  const lasts = (scenario: LoadedScenario['scenario']) => durationMs ?? scenario.durationMs ?? DEFAULT_RUN_MS;
  const prepared = await prepareSession(file, options, output, (scenario) => Math.ceil(lasts(scenario) / 1000) + 120)
    .catch(async (error: unknown) => {
      await accessLog?.close();
      throw error;
    });
  if (!prepared) {
    await accessLog?.close();
    return EXIT.badInput;
  }
  const { loaded, session, seed, runtime, forwarding, jaeger, recorder } = prepared;
  const { scenario } = loaded;
  durationMs = lasts(scenario);
  output.err(`mesh-sim run ${scenario.name}: seed ${seed}, ${formatDuration(durationMs)} on the ${runtime} runtime`);
  session.on('progress', (m) => output.err(`  ${m}`));
  session.on('warning', (m) => output.err(`  warning: ${m}`));
  session.on('overload', (state, m) => output.err(state === 'overloaded' ? `  warning: ${m}` : `  ${m}`));
  const elapsed = () => (session.trafficStartedAt === undefined ? 0 : Date.now() - session.trafficStartedAt);
  session.on('say', (text) => output.err(`[${clock(elapsed())}] ${text}`));
  session.on('pushed', (version, acked, total, ms) => {
    const late = acked < total ? ` (${total - acked} had not acknowledged it after 5s)` : '';
    output.err(`[${clock(elapsed())}] config v${version} pushed to ${acked}/${total} sidecars in ${Math.round(ms)} ms${late}`);
  });
  session.on('check', (result) => {
    if (result.at === undefined) return;
    output.err(`[${clock(elapsed())}] check ${result.expr}: ${result.ok ? 'PASS' : 'FAIL'} (${measuredText(result)})`);
  });
  if (accessLog) session.on('log', (record, line) => accessLog.write(record, line.text));

  let interrupted = false;
  let wake: (() => void) | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      output.err(`mesh-sim: ${signal} again: stopping at once`);
      void session.shutdown(0);
      return;
    }
    interrupted = true;
    output.err(`\nmesh-sim: ${signal}: stopping the mesh (press Ctrl-C again to stop at once)`);
    wake?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const starting = session.start();
    const interruption = new Promise<'interrupted'>((resolve) => (wake = () => resolve('interrupted')));
    const started = await Promise.race([starting.then(() => 'started' as const), interruption]);
    if (started === 'interrupted') {
      await starting.catch(() => {});
      await session.shutdown();
      output.err('mesh-sim: interrupted before the mesh was up; nothing is left running');
      return EXIT.interrupted;
    }
    if (options.prometheus || jaeger) await session.startObservability(5, jaeger);
    const tcp = new Set(scenario.services.filter((svc) => svc.protocol === 'tcp').map((svc) => svc.name));
    const flows = scenario.traffic.map((f) => `${f.id} ${f.rps} rps → ${f.to}${tcp.has(f.to) ? ' (tcp: a connection each)' : f.path}`).join(', ');
    output.err(`  traffic: ${flows || 'none (the scenario has no traffic)'}`);
    const ingress = session.instances.get('istio-ingressgateway')?.started?.ingress;
    const entry = scenario.traffic.find((f) => !tcp.has(f.to)) ?? { to: scenario.services[0]!.name, path: '/' };
    if (ingress) output.err(`  ingress: curl -H 'Host: ${entry.to}' http://${ingress.host}:${ingress.port}${entry.path}`);
    session.beginTraffic(durationMs);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise<void>((resolve) => (timer = setTimeout(resolve, durationMs))), new Promise<void>((resolve) => (wake = resolve))]);
    // A pending timer would keep the process alive after the summary.
    clearTimeout(timer);
    output.err(`  ${interrupted ? 'interrupted' : 'done'} after ${formatDuration(Math.round(elapsed() / 100) * 100)}: draining and stopping`);
    await session.finish();
    const unanswered = session.traffic?.counts.unanswered ?? 0;
    if (unanswered > 0) {
      output.err(`  ${unanswered} request${unanswered === 1 ? ' was' : 's were'} still in flight when the run ended: counted as unanswered, not as errors`);
    }
  } catch (error) {
    await session.shutdown();
    if (error instanceof InstanceStartError) {
      output.err(`mesh-sim: ${error.message}`);
      output.err('mesh-sim: the mesh did not start; everything it started has been stopped');
      return EXIT.badInput;
    }
    if (error instanceof RuntimeUnavailableError) throw new UserError(error.message);
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await accessLog?.close();
    await recorder?.close(interrupted);
  }
  if (recorder) output.err(`  ${recordingReport(recorder)}`);
  for (const f of [forwarding, session.jaegerForward]) if (f) output.err(`  ${forwardingReport(f)}`);

  const summary = sessionSummary(session, interrupted);
  output.out(options.json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
  if (interrupted) return EXIT.interrupted;
  return summary.checks.every((c) => c.ok) ? EXIT.ok : EXIT.checksFailed;
}
