#!/usr/bin/env node
// The `mesh-sim` command: parses arguments, runs a command, turns every failure into
// a message and an exit code. Commands live beside this file, one module each.

import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { EXIT, UserError } from './exit-codes.js';
import type { Output } from './validate.js';
import type { RunOptions } from './run.js';
import type { UpOptions } from './up.js';
import type { ReplayOptions } from './replay.js';
import { SPEEDS } from '../record/speeds.js';
import type { DownOptions } from './down.js';
import type { ExportOptions } from './export.js';
import type { ImageOptions } from './image.js';
import type { CheckOptions } from './check.js';
import type { ProxyOptions } from './proxy.js';
import { ADMIN_ENDPOINTS } from '../sidecar/admin.js';

// Each command's module (and what it needs: the mesh, Docker's client, the UI, the
// schemas) is loaded when that command runs, so `--help`, `validate` and `run` do not
// wait for the others' (all of them took 0.5 s before the first line of any command).

// `mesh-sim … | head`: when the reader goes away, stop quietly, as git and grep do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const stdio: Output = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command();
  program
    .name('mesh-sim')
    .usage('<command> [options]')
    .description('A service mesh on one laptop: sidecars, traffic, faults, metrics and traces, live.')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .helpCommand('help [command]', 'show help for a command')
    .showHelpAfterError("(run 'mesh-sim --help' for usage)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) })
    .addHelpText('after', `
Examples:
  mesh-sim up scenarios/bookinfo.yaml          watch Bookinfo live in the terminal
  mesh-sim run scenarios/retry-storm.yaml      run without the UI; exit 1 if a check fails
  mesh-sim validate scenarios/*.yaml           report every problem in every file
  mesh-sim istio scenarios/canary.yaml         the Istio YAML the scenario means
  mesh-sim export scenarios/bookinfo.yaml --kubernetes out/   take it to a cluster with Istio
  mesh-sim check scenarios/bookinfo.yaml --prometheus URL     grade it on any Prometheus
  mesh-sim proxy productpage stats              a running mesh's sidecar, as pilot-agent request GET stats

Scenario format: see README.md ("The scenario file").`);

  program
    .command('validate')
    .summary('check scenario files and report every problem in them')
    .description('Check scenario files against the scenario format and report every problem found, each as FILE:LINE:COL: PATH: message. Warnings (rules that will not do what they seem to) do not fail validation.')
    .argument('<files...>', 'scenario files (YAML)')
    .addHelpText('after', `
Exit status: 0 when every file is valid, 2 when any has a problem.

Examples:
  mesh-sim validate scenarios/bookinfo.yaml
  mesh-sim validate scenarios/*.yaml`)
    .action(async (files: string[]) => setExit(await (await import('./validate.js')).validateCommand(files, stdio)));

  program
    .command('up')
    .summary('start a scenario\'s mesh and watch it live in the terminal')
    .description('Start the scenario\'s mesh and show it live until you quit: services with their rates, errors and latency, the service graph, every sidecar\'s access log, traces as waterfalls, and the timeline with its narration. Press ? for the keys; q or Ctrl-C stops everything the run started.')
    .argument('<file>', 'scenario file (YAML)')
    .option('-s, --seed <n>', "seed for every random decision (default: the scenario's, else a fresh one)")
    .option('-r, --runtime <name>', 'where the mesh runs: process (local processes) or docker (containers)', 'process')
    .option('--nodes <n>', 'process runtime: how many node processes host the pods (default: one per core)')
    .option('--no-prometheus', 'do not start Prometheus (and Grafana on docker) beside the mesh')
    .option('--otlp-endpoint <url>', 'also send every span to this OTLP/HTTP collector (protobuf; OTEL_EXPORTER_OTLP_PROTOCOL=http/json for JSON, OTEL_EXPORTER_OTLP_HEADERS for headers)')
    .option('-w, --watch', 'apply the scenario file again each time it is saved, as kubectl apply would (a file that no longer validates is shown and the mesh kept)')
    .option('--record <file>', 'record the run (spans, logs, statistics, timeline, checks) to a new file, for `mesh-sim replay`')
    .option('--jaeger', 'docker runtime: also start Jaeger all-in-one, send it every span, and give Grafana its data source')
    .addHelpText('after', `
Needs a terminal (80x24 or larger). NO_COLOR turns colours off. Without a
terminal, use \`mesh-sim run\`.

Keys: Tab or 1-6 panes, arrows or j/k move, Enter opens, Esc back, / filter,
p pause, n next timeline event (instructor mode), a apply the file again,
? help, q quit.

Examples:
  mesh-sim up scenarios/bookinfo.yaml
  mesh-sim up scenarios/istio/request-routing.yaml --watch   edit it, save, watch
  mesh-sim up scenarios/canary.yaml --seed 7
  mesh-sim up scenarios/bookinfo.yaml --runtime docker`)
    .action(async (file: string, options: UpOptions) => setExit(await (await import('./up.js')).upCommand(file, options, stdio)));

  program
    .command('replay')
    .summary('play back a recording made with --record: the live UI, or the summary, with no mesh running')
    .description('Open a recording made with `run --record` or `up --record` in the same UI as `up`, with no mesh running: pause, seek and speed up, and every pane works as it did live. With --summary or --json (or without a terminal), print the summary `run` printed, rebuilt from the recording: the same numbers and check values. A recording cut short by a crash replays up to its last whole second.')
    .argument('<file>', 'recording (from --record)')
    .option('--summary', 'print the run\'s summary instead of opening the UI')
    .option('--json', 'print the summary as JSON')
    .option('--speed <x>', `playback speed: ${SPEEDS.join(', ')}`, '1')
    .option('--at <time>', 'start this far into the recording, e.g. 1m30s')
    .addHelpText('after', `
Keys: space or p play/pause, ← → (or [ ]) back/forward 10s, n N next/previous
timeline event, + - speed, and the panes' keys as in \`up\`.

Examples:
  mesh-sim run scenarios/retry-storm.yaml --record storm.msrec
  mesh-sim replay storm.msrec
  mesh-sim replay storm.msrec --at 30s --speed 4
  mesh-sim replay storm.msrec --json > summary.json`)
    .action(async (file: string, options: ReplayOptions) => setExit(await (await import('./replay.js')).replayCommand(file, options, stdio)));

  program
    .command('run')
    .summary("run a scenario without the UI and print a summary (for CI)")
    .description('Start the scenario\'s mesh, drive its traffic and timeline for its duration, then print a summary: per service requests, errors, rps and latency percentiles, edges, traces, and the result of every check. Progress and narration go to stderr, the summary to stdout.')
    .argument('<file>', 'scenario file (YAML)')
    .option('-d, --duration <duration>', "how long to run, e.g. 30s or 2m (default: the scenario's duration, else 30s)")
    .option('-s, --seed <n>', "seed for every random decision (default: the scenario's, else a fresh one, printed)")
    .option('--json', 'print the summary as JSON')
    .option('-r, --runtime <name>', 'where the mesh runs: process (local processes) or docker (containers)', 'process')
    .option('--nodes <n>', 'process runtime: how many node processes host the pods (default: one per core)')
    .option('--access-log <file>', "write every sidecar's access log to a file (Istio's JSON encoding, one object a line)")
    .option('--access-log-encoding <json|text>', "with --access-log: text writes Istio's default TEXT lines, as `kubectl logs POD -c istio-proxy` shows them")
    .option('--prometheus', 'start Prometheus (and Grafana on docker) beside the mesh, as up does')
    .option('--record <file>', 'record the run (spans, logs, statistics, timeline, checks) to a new file, for `mesh-sim replay`')
    .option('--jaeger', 'docker runtime: also start Jaeger all-in-one, send it every span, and give Grafana its data source')
    .option('--otlp-endpoint <url>', 'also send every span to this OTLP/HTTP collector (protobuf; OTEL_EXPORTER_OTLP_PROTOCOL=http/json for JSON, OTEL_EXPORTER_OTLP_HEADERS for headers)')
    .addHelpText('after', `
Exit status: 0 when every check holds, 1 when one fails, 2 for bad input or a
mesh that would not start, 130 when interrupted (the summary is still printed).

Examples:
  mesh-sim run scenarios/bookinfo.yaml
  mesh-sim run scenarios/retry-storm.yaml --duration 20s --json > summary.json
  mesh-sim run scenarios/canary.yaml --seed 7 --access-log access.jsonl
  mesh-sim run scenarios/istio/request-routing.yaml --access-log access.log --access-log-encoding text`)
    .action(async (file: string, options: RunOptions) => setExit(await (await import('./run.js')).runCommand(file, options, stdio)));

  program
    .command('istio')
    .summary('print the Istio YAML a scenario means, to apply on a real cluster')
    .description("Print the Istio resources a scenario means, as kubectl takes them: its `mesh:` shorthand written out as VirtualServices and DestinationRules, its `istio:` and `include:` resources, and, section by section, what each timeline event applies and deletes.")
    .argument('<file>', 'scenario file (YAML)')
    .addHelpText('after', `
Examples:
  mesh-sim istio scenarios/canary.yaml                 the shorthand as Istio's own resources
  mesh-sim istio scenarios/bookinfo.yaml > istio.yaml  then: kubectl apply -f istio.yaml`)
    .action(async (file: string) => setExit(await (await import('./istio.js')).istioCommand(file, stdio)));

  program
    .command('export')
    .summary('write what a Kubernetes cluster with Istio needs to run the scenario')
    .description("Write the files `kubectl apply -f DIR` needs to run the scenario on a Kubernetes cluster with Istio: a namespace labelled for sidecar injection; per service a ServiceAccount, a Service (port named http) and a Deployment per version (labels app and version) running mesh-sim's workload; the scenario's Istio resources unchanged (the shorthand written out); a Gateway; the traffic as a Job; the timeline as timeline.sh; and a README saying what a cluster does differently.")
    .argument('<file>', 'scenario file (YAML)')
    .option('--kubernetes <dir>', 'write Kubernetes and Istio manifests into this directory (new or empty)')
    .option('--image <name>', "the image with mesh-sim's workload and traffic generator (build it with mesh-sim image build)")
    .option('-n, --namespace <name>', 'the namespace to run in', 'default')
    .option('-s, --seed <n>', "seed for the apps' own decisions and the traffic (default: the scenario's, else 42)")
    .option('-d, --duration <duration>', "how long the traffic runs (default: the scenario's duration, else 5m)")
    .option('--force', 'write into a directory that is not empty')
    .addHelpText('after', `
Examples:
  mesh-sim export scenarios/bookinfo.yaml --kubernetes out/bookinfo
  mesh-sim export scenarios/istio/fault-injection.yaml --kubernetes out/faults --image registry.example.com/mesh-sim:1

Then: mesh-sim image build --tag IMAGE (push it, or kind load docker-image IMAGE),
kubectl apply -f DIR, sh DIR/timeline.sh, and grade with mesh-sim check.`)
    .action(async (file: string, options: ExportOptions) => setExit(await (await import('./export.js')).exportCommand(file, options, stdio)));

  program
    .command('image')
    .summary("build or push mesh-sim's image, for a cluster to run")
    .description("Build mesh-sim's image (its workload and traffic generator on this machine's Node.js, no registry or Dockerfile needed) under a name of your own, or push it to the registry that name points at. Needs Docker.")
    .argument('<action>', 'build or push')
    .option('-t, --tag <name>', 'the image name', `mesh-sim:${VERSION}`)
    .addHelpText('after', `
Examples:
  mesh-sim image build --tag mesh-sim:${VERSION} && kind load docker-image mesh-sim:${VERSION}
  mesh-sim image build --tag registry.example.com/team/mesh-sim:1
  mesh-sim image push --tag registry.example.com/team/mesh-sim:1`)
    .action(async (action: string, options: ImageOptions) => setExit(await (await import('./image.js')).imageCommand(action, options, stdio)));

  program
    .command('check')
    .summary("judge a scenario's checks against any Prometheus with Istio's metrics")
    .description("Judge a scenario's checks against a Prometheus holding Istio's standard metrics (a real cluster's, or mesh-sim's own), translated to PromQL over istio_requests_total and istio_request_duration_milliseconds (reporter=\"destination\"), each shown with its query. The run's checks are judged over --from..--to; given --from (the run's start), timeline checks too, each at its own time over its window.")
    .argument('<file>', 'scenario file (YAML)')
    .option('--prometheus <url>', 'the Prometheus to ask, e.g. http://127.0.0.1:9090')
    .option('--from <time>', "the run's start: seconds since the epoch (as timeline.sh prints), RFC 3339, or now-10m")
    .option('--to <time>', "the run's end (default: --from plus the scenario's duration, or now)")
    .option('-n, --namespace <name>', 'the namespace the services run in', 'default')
    .option('--json', 'print the results as JSON')
    .addHelpText('after', `
Exit status: 0 when every check holds, 1 when one fails, 2 for bad input or a
Prometheus that cannot be asked.

Examples:
  mesh-sim check scenarios/bookinfo.yaml --prometheus http://127.0.0.1:9090 --from now-2m
  mesh-sim check scenarios/istio/fault-injection.yaml --prometheus http://prometheus:9090 --from 1764300000`)
    .action(async (file: string, options: CheckOptions) => setExit(await (await import('./check.js')).checkCommand(file, options, stdio)));

  program
    .command('proxy')
    .summary("ask a running mesh's sidecar for its Envoy admin pages (stats, clusters, config_dump)")
    .description("Ask one pod's sidecar in the mesh running on this machine (`mesh-sim up` or `run` in another terminal) for an admin page, as `kubectl exec POD -c istio-proxy -- pilot-agent request GET ENDPOINT` does on a cluster. stats prints the statistics mesh-sim keeps under Envoy's names (the Circuit Breaking task's `| grep pending` works on it).")
    .argument('<pod>', 'an instance (reviews-v1-0), or a service or workload (reviews, reviews-v2): its first pod')
    .argument('[endpoint]', `${ADMIN_ENDPOINTS.join(', ')}`, 'stats')
    .option('--run <id>', 'which running mesh, when several are (default: the newest)')
    .addHelpText('after', `
Examples:
  mesh-sim proxy istio-ingressgateway stats | grep pending   # Istio's Circuit Breaking task (fortio's proxy)
  mesh-sim proxy productpage clusters
  mesh-sim proxy reviews-v2-0 config_dump`)
    .action(async (pod: string, endpoint: string | undefined, options: ProxyOptions) => setExit(await (await import('./proxy.js')).proxyCommand(pod, endpoint, options, stdio)));

  program
    .command('down')
    .summary('remove what a crashed or killed run left behind')
    .description('Remove what runs left behind when mesh-sim could not clean up after itself (kill -9, a crash): containers and networks labelled mesh-sim, and processes of the process runtime. Runs whose mesh-sim is still running are left alone unless --all.')
    .option('--all', 'also remove what running meshes started')
    .addHelpText('after', `
Examples:
  mesh-sim down
  docker ps --filter label=mesh-sim      # what it would look for`)
    .action(async (options: DownOptions) => setExit(await (await import('./down.js')).downCommand(options, stdio)));

  return program;
}

export async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      const benign = ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code);
      return benign ? EXIT.ok : EXIT.badInput;
    }
    if (error instanceof UserError) {
      stdio.err(`mesh-sim: ${error.message}`);
      return error.exitCode;
    }
    stdio.err(`mesh-sim: internal error: ${(error as Error).message ?? String(error)}`);
    if (process.env.MESH_SIM_DEBUG) stdio.err((error as Error).stack ?? '');
    else stdio.err('(this is a bug in mesh-sim; MESH_SIM_DEBUG=1 shows where it happened)');
    return EXIT.internal;
  }
}

const code = await main(process.argv);
process.exitCode = code;
