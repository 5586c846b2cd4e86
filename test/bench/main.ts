// `npm run bench`: mesh-sim's speed and memory targets, measured in one run as ratios
// and differences against a baseline on the same machine at the same time, so a
// shared, noisy machine moves both sides alike. Prints one JSON object; progress on
// stderr. Every load is bounded in time and count, and goes to 127.0.0.1 only.

import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ControlPlane } from '../../src/control/plane.js';
import { Hub } from '../../src/mesh/hub.js';
import { MeshSession } from '../../src/mesh/session.js';
import { loadScenarioFile } from '../../src/scenario/load.js';
import { emptyMeshConfig } from '../../src/policy/config.js';
import type { Scenario } from '../../src/scenario/model.js';
import { runtimeFactory, type RuntimeName } from '../../src/runtime/registry.js';
import Docker from 'dockerode';
import { freePorts } from '../../src/runtime/process/ports.js';
import { SIDECAR_ENV, type SidecarBoot } from '../../src/sidecar/boot.js';
import type { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { PACKAGE_ROOT } from '../../src/version.js';
import type { LoadArgs } from './load-args.js';
import { quantile } from '../helpers/quantile.js';
import { BIN } from '../helpers/cli.js';
import { cpuOf } from './cpu.js';
import { startNginx } from './nginx.js';
import { nodeFlags } from '../../src/runtime/process/node-process.js';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const log = (message: string) => process.stderr.write(`bench: ${message}\n`);
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const median = (values: number[]) => quantile(values, 0.5);

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

async function server(kind: 'upstream' | 'forwarder' | 'http-proxy' | 'relay' | 'server-half', port: number, target?: number): Promise<ChildProcess> {
  const child = fork(here('./servers.js'), [kind, String(port), String(target ?? '')], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  children.push(child);
  await new Promise<void>((resolve) => child.once('message', () => resolve()));
  return child;
}

function load<T>(args: LoadArgs): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [here('./load.js'), JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as T) : reject(new Error(`load generator exited ${code}`))));
  });
}

const benchService = (name: string): Scenario['services'][number] => ({
  name, sidecar: true, protocol: 'http', serviceAccount: name, port: 8080, where: 'bench:1',
  versions: [{ name: 'v1', replicas: 1, latency: { kind: 'constant', ms: 0 }, errorRate: 0, errorStatus: 500, responseSize: 128, calls: [], image: undefined, command: undefined, where: 'bench:1' }],
});

/** Spawns a sidecar process with `boot`; resolves once it holds the plane's configuration. */
async function spawnSidecar(boot: SidecarBoot, plane: ControlPlane): Promise<{ pid: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [...nodeFlags(), here('../../src/sidecar/main.js')], {
    env: { ...process.env, [SIDECAR_ENV]: JSON.stringify(boot) },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  children.push(child);
  // Access logs are read and dropped, as the orchestrator would read them.
  child.stdout!.on('data', () => {});
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the sidecar did not reach the control plane within 15 s')), 15_000);
    child.once('exit', (code) => reject(new Error(`the sidecar exited (${code}) before it was ready`)));
    const onAck = (instance: string, v: number) => {
      if (instance !== boot.instance || v < 1) return;
      clearTimeout(timer);
      plane.off('ack', onAck);
      resolve();
    };
    plane.on('ack', onAck);
  });
  return {
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
    },
  };
}

function sidecarBoot(instance: string, service: string, ports: { inbound: number; outbound: number; admin: number }, app: number, hub: Hub, hubPort: number): SidecarBoot {
  return {
    instance, service, version: 'v1', namespace: 'default', workload: `${service}-v1`, servicePort: 8080, mode: 'sidecar',
    listen: { host: '127.0.0.1', ...ports },
    app: { host: '127.0.0.1', port: app },
    controlUrl: `http://127.0.0.1:${hubPort}`,
    controlSecret: hub.secret,
  };
}

/** One sidecar process in front of the upstream, fed by a real control plane and collector. */
async function startSidecar(upstream: number): Promise<{ pid: number; inbound: number; outbound: number; stop: () => Promise<void>; spans: () => number }> {
  // The outbound path's endpoint is the upstream itself, standing in for a callee's inbound
  // (a pod without a sidecar, so the outbound speaks plaintext to it).
  const plane = new ControlPlane({ services: [{ ...benchService('bench'), sidecar: false }], config: emptyMeshConfig() }, 1);
  const identity = { instance: 'bench-v1-0', service: 'bench', version: 'v1', host: '127.0.0.1', port: upstream };
  plane.register(identity);
  let spans = 0;
  const hub = new Hub(plane, (id) => (id === identity.instance ? identity : undefined), (s) => (spans += s.length));
  const hubPort = await hub.listen(['127.0.0.1']);
  const [inbound, outbound, admin] = await freePorts(3);
  const sidecar = await spawnSidecar(sidecarBoot(identity.instance, 'bench', { inbound: inbound!, outbound: outbound!, admin: admin! }, upstream, hub, hubPort), plane);
  plane.setReady(identity.instance, true);
  await plane.awaitAcked([identity.instance], plane.version, 5000);
  return {
    pid: sidecar.pid,
    inbound: inbound!,
    outbound: outbound!,
    spans: () => spans,
    stop: async () => {
      await sidecar.stop();
      await hub.close();
    },
  };
}

/**
 * One hop as Istio makes it: a caller's sidecar (outbound) to the callee's sidecar
 * (inbound) to the app, with automatic mutual TLS on, then off (a mesh-wide
 * PeerAuthentication DISABLE), side by side against the app called directly.
 */
async function mtlsBenchmarks(): Promise<Record<string, unknown>> {
  const [upstreamPort] = await freePorts(1);
  await server('upstream', upstreamPort!);
  const services = [benchService('bench'), benchService('client')];
  const plane = new ControlPlane({ services, config: emptyMeshConfig() }, 1);
  const [calleeIn, calleeOut, calleeAdmin, callerIn, callerOut, callerAdmin] = await freePorts(6);
  const callee = { instance: 'bench-v1-0', service: 'bench', version: 'v1', host: '127.0.0.1', port: calleeIn! };
  const caller = { instance: 'client-v1-0', service: 'client', version: 'v1', host: '127.0.0.1', port: callerIn! };
  plane.register(callee);
  plane.register(caller);
  const hub = new Hub(plane, (id) => (id === callee.instance ? callee : id === caller.instance ? caller : undefined), () => {});
  const hubPort = await hub.listen(['127.0.0.1']);
  const sidecars = [
    await spawnSidecar(sidecarBoot(callee.instance, 'bench', { inbound: calleeIn!, outbound: calleeOut!, admin: calleeAdmin! }, upstreamPort!, hub, hubPort), plane),
    await spawnSidecar(sidecarBoot(caller.instance, 'client', { inbound: callerIn!, outbound: callerOut!, admin: callerAdmin! }, upstreamPort!, hub, hubPort), plane),
  ];
  plane.setReady(callee.instance, true);
  const setMtls = async (on: boolean) => {
    const config = emptyMeshConfig();
    if (!on) config.peerAuthentications = [{ origin: { kind: 'PeerAuthentication', name: 'default', namespace: 'istio-system', where: 'bench:1' }, namespace: 'istio-system', name: 'default', selector: undefined, mode: 'DISABLE', ports: {} }];
    plane.setScenario({ services, config });
    await plane.awaitAcked([callee.instance, caller.instance], plane.version, 5000);
  };
  const closed = (port: number, absolute: boolean) => load<{ rps: number; failed: number }>({
    url: `http://127.0.0.1:${port}`, host: 'bench:8080', mode: 'closed', connections: 32, rate: 0, seconds: 3, absolute,
  });
  const open = (port: number, absolute: boolean) => load<{ p50: number; p99: number; failed: number; done: number }>({
    url: `http://127.0.0.1:${port}`, host: 'bench:8080', mode: 'open', connections: 64, rate: 500, seconds: 5, absolute,
  });
  const runs: Record<'on' | 'off', { rps: number[]; p50: number[]; p99: number[]; failed: number }> = {
    on: { rps: [], p50: [], p99: [], failed: 0 }, off: { rps: [], p50: [], p99: [], failed: 0 },
  };
  const direct = await open(upstreamPort!, false);
  for (let r = 0; r < 3; r++) {
    for (const mode of ['on', 'off'] as const) {
      log(`mTLS ${mode}, round ${r + 1}/3`);
      await setMtls(mode === 'on');
      const throughput = await closed(callerOut!, true);
      const latency = await open(callerOut!, true);
      runs[mode].rps.push(throughput.rps);
      runs[mode].p50.push(latency.p50);
      runs[mode].p99.push(latency.p99);
      runs[mode].failed += throughput.failed + latency.failed;
    }
  }
  for (const sidecar of sidecars) await sidecar.stop();
  await hub.close();
  const figures = (mode: 'on' | 'off') => ({
    hopRps: round(median(runs[mode].rps), 0),
    addedP50Ms: round(median(runs[mode].p50) - direct.p50),
    addedP99Ms: round(median(runs[mode].p99) - direct.p99),
    failed: runs[mode].failed,
  });
  const on = figures('on');
  const off = figures('off');
  return {
    mtlsOn: on,
    mtlsOff: off,
    throughputRatioOnOverOff: round(on.hopRps / off.hopRps),
    target: 'report what mTLS costs: throughput ratio on/off (real Envoy loses a few %), added latency side by side',
  };
}

async function sidecarBenchmarks(): Promise<Record<string, unknown>> {
  const [upstreamPort, forwarderPort, httpProxyPort, relayPort, serverHalfPort, nginxPort] = await freePorts(6);
  await server('upstream', upstreamPort!);
  const forwarderProcess = await server('forwarder', forwarderPort!, upstreamPort);
  await server('http-proxy', httpProxyPort!, upstreamPort);
  const relayProcess = await server('relay', relayPort!, upstreamPort);
  const serverHalfProcess = await server('server-half', serverHalfPort!, upstreamPort);
  const nginx = await startNginx(nginxPort!, upstreamPort!);
  const sidecar = await startSidecar(upstreamPort!);
  const closed = (port: number, absolute: boolean) => load<{ rps: number; failed: number; done: number }>({
    url: `http://127.0.0.1:${port}`, host: 'bench:8080', mode: 'closed', connections: 32, rate: 0, seconds: 3, absolute,
  });
  // Warm-up: JIT and connection pools, on every path.
  await closed(forwarderPort!, false);
  await closed(httpProxyPort!, false);
  await closed(relayPort!, false);
  await closed(serverHalfPort!, false);
  await closed(sidecar.inbound, false);
  await closed(sidecar.outbound, true);
  if (nginx) await closed(nginxPort!, false);
  const rounds = 3;
  const nginxRps: number[] = [];
  const forwarder: number[] = [];
  const bareProxy: number[] = [];
  const relayRps: number[] = [];
  const inbound: number[] = [];
  const outbound: number[] = [];
  /** Microseconds of CPU per request at full speed, in each proxy's own process. */
  const cpu: Record<'forwarder' | 'relay' | 'serverHalf' | 'sidecarInbound' | 'sidecarOutbound', number[]> = {
    forwarder: [], relay: [], serverHalf: [], sidecarInbound: [], sidecarOutbound: [],
  };
  /** One load run, and the CPU the given processes spent on each of its requests, in µs. */
  const withCpu = async <T extends { done: number }>(run: () => Promise<T>, pids: number[]) => {
    const before = await cpuOf(pids);
    const result = await run();
    return { result, us: ((await cpuOf(pids)) - before) * 1e6 / Math.max(1, result.done) };
  };
  const measured = async (port: number, absolute: boolean, pid: number, into: number[]) => {
    const { result, us } = await withCpu(() => closed(port, absolute), [pid]);
    into.push(us);
    return result.rps;
  };
  for (let r = 0; r < rounds; r++) {
    log(`throughput round ${r + 1}/${rounds}`);
    forwarder.push(await measured(forwarderPort!, false, forwarderProcess.pid!, cpu.forwarder));
    bareProxy.push((await closed(httpProxyPort!, false)).rps);
    relayRps.push(await measured(relayPort!, false, relayProcess.pid!, cpu.relay));
    await measured(serverHalfPort!, false, serverHalfProcess.pid!, cpu.serverHalf);
    inbound.push(await measured(sidecar.inbound, false, sidecar.pid, cpu.sidecarInbound));
    outbound.push(await measured(sidecar.outbound, true, sidecar.pid, cpu.sidecarOutbound));
    if (nginx) nginxRps.push((await closed(nginxPort!, false)).rps);
  }
  const open = (port: number, absolute: boolean) => load<{ p50: number; p99: number; failed: number; done: number }>({
    url: `http://127.0.0.1:${port}`, host: 'bench:8080', mode: 'open', connections: 64, rate: 500, seconds: 5, absolute,
  });
  log('latency and CPU per request at 500 rps');
  /** CPU the given processes spent on each request of one open-loop run, in ms. */
  const cpuPerRequest = async (port: number, absolute: boolean, pids: number[]) => {
    const { result, us } = await withCpu(() => open(port, absolute), pids);
    return { result, ms: us / 1000 };
  };
  const direct = await open(upstreamPort!, false);
  const inboundRun = await cpuPerRequest(sidecar.inbound, false, [sidecar.pid, process.pid]);
  const viaInbound = inboundRun.result;
  const viaOutbound = await open(sidecar.outbound, true);
  const forwarderCpu = await cpuPerRequest(forwarderPort!, false, [forwarderProcess.pid!]);
  const relayCpu = await cpuPerRequest(relayPort!, false, [relayProcess.pid!]);
  const nginxCpu = nginx ? await cpuPerRequest(nginxPort!, false, await nginx.pids()) : undefined;
  const spansSeen = sidecar.spans();
  await sidecar.stop();
  await nginx?.stop();
  const forwarderRps = median(forwarder);
  return {
    throughput: {
      forwarderRps: round(forwarderRps, 0),
      // The floor under the sidecar: the proxy library with no telemetry at all.
      httpProxyAloneRps: round(median(bareProxy), 0),
      httpProxyAloneRatio: round(median(bareProxy) / forwarderRps),
      // Under everything: a relay that copies bytes and does no HTTP work.
      relayRps: round(median(relayRps), 0),
      relayRatio: round(median(relayRps) / forwarderRps),
      sidecarInboundRps: round(median(inbound), 0),
      sidecarOutboundRps: round(median(outbound), 0),
      inboundRatio: round(median(inbound) / forwarderRps),
      outboundRatio: round(median(outbound) / forwarderRps),
      target: 'ratio >= 0.8 (sidecar with telemetry on / bare node:http forwarder, same upstream)',
      spansExported: spansSeen,
      // Where the time goes, per request, in each proxy's own process: Node's HTTP server half is
      // serverHalf - relay, its client half forwarder - serverHalf; the sidecar's own work is what it spends above the forwarder.
      cpuUsPerRequest: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round(median(v), 1)])),
      nginxRps: nginx ? round(median(nginxRps), 0) : 'nginx not installed',
    },
    cpuPerRequestAt500Rps: {
      sidecarAndCollectorMs: round(inboundRun.ms, 3),
      bareForwarderMs: round(forwarderCpu.ms, 3),
      relayMs: round(relayCpu.ms, 3),
      nginxMs: nginxCpu ? round(nginxCpu.ms, 3) : 'nginx not installed',
      sidecarOverNginx: nginxCpu ? round(inboundRun.ms / nginxCpu.ms, 1) : null,
      target: 'sidecar + collector <= 3x nginx per request',
    },
    addedLatencyAt500Rps: {
      directP50Ms: round(direct.p50), directP99Ms: round(direct.p99),
      inboundAddedP50Ms: round(viaInbound.p50 - direct.p50), inboundAddedP99Ms: round(viaInbound.p99 - direct.p99),
      outboundAddedP50Ms: round(viaOutbound.p50 - direct.p50), outboundAddedP99Ms: round(viaOutbound.p99 - direct.p99),
      failed: direct.failed + viaInbound.failed + viaOutbound.failed,
      target: 'added p50 <= 0.25 ms per hop (and p99 <= 3 ms)',
    },
  };
}

interface Memory {
  rss: number;
  /** Proportional: shared pages divided among the processes sharing them. */
  pss: number;
  /** Private: what this process alone holds, and frees when it exits. */
  uss: number;
}

async function memoryOf(pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  const kb = (text: string, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0) * 1024;
  try {
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    return { rss, pss: kb(rollup, 'Pss'), uss: kb(rollup, 'Private_Clean') + kb(rollup, 'Private_Dirty') };
  } catch {
    // No smaps_rollup on this kernel: RSS stands in for all three.
    return { rss, pss: rss, uss: rss };
  }
}

/** From loading Bookinfo to its first complete trace (productpage, details and reviews in it). */
async function firstTrace(runtime: RuntimeName): Promise<{ session: MeshSession; firstTraceMs: number; startupMs: number }> {
  const began = performance.now();
  const loaded = await loadScenarioFile(`${PACKAGE_ROOT}/scenarios/bookinfo.yaml`);
  const session = new MeshSession({ ...loaded, scenario: { ...loaded.scenario, timeline: [], checks: [] } }, { runtimeFactory: runtimeFactory(runtime), seed: 42 });
  await session.start();
  const startupMs = performance.now() - began;
  session.beginTraffic();
  let firstTraceMs = NaN;
  const deadline = performance.now() + 20_000;
  while (performance.now() < deadline) {
    const complete = session.traces.recent().find((t) => t.complete && ['productpage', 'details', 'reviews'].every((s) => t.services.includes(s)));
    if (complete) {
      firstTraceMs = performance.now() - began;
      break;
    }
    session.traces.tick(Date.now(), true);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { session, firstTraceMs, startupMs };
}

async function dockerBenchmarks(): Promise<Record<string, unknown>> {
  const docker = new Docker();
  try {
    await docker.ping();
  } catch {
    return { skipped: 'no Docker daemon here' };
  }
  // Cold: the runtime image is built from the local Node.js during startup.
  for (const image of await docker.listImages({ filters: { reference: ['mesh-sim-node'] } })) await docker.getImage(image.Id).remove({ force: true }).catch(() => {});
  log('Docker: first complete trace with a cold image (built during startup)');
  const cold = await firstTrace('docker');
  await cold.session.finish();
  log('Docker: first complete trace with a warm image');
  const warm = await firstTrace('docker');
  await warm.session.finish();
  return {
    coldImage: { firstCompleteTraceMs: round(cold.firstTraceMs, 0), startupMs: round(cold.startupMs, 0) },
    warmImage: { firstCompleteTraceMs: round(warm.firstTraceMs, 0), startupMs: round(warm.startupMs, 0) },
    note: 'from loading the scenario to the first complete Bookinfo trace, on up --runtime docker; no registry involved',
  };
}

/**
 * The installed command (package.json's bin), as a user types it, from its spawn to its
 * `ready:` line: Node's own start, loading mesh-sim, the scenario, the nodes' start and
 * the pods' certificates. firstTrace's session cannot see that part: it runs in this
 * process, with everything loaded.
 */
async function commandToReady(): Promise<number> {
  const began = performance.now();
  const child = spawn(process.execPath, [BIN, 'run', `${PACKAGE_ROOT}/scenarios/bookinfo.yaml`, '--duration', '1s'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let readyMs = NaN;
  let text = '';
  child.stderr!.on('data', (d: Buffer) => {
    text += d.toString();
    if (Number.isNaN(readyMs) && /^\s*ready: /m.test(text)) readyMs = performance.now() - began;
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  // Exit 1 is a check's verdict on the second of traffic, not this measurement's business.
  if ((code !== 0 && code !== 1) || Number.isNaN(readyMs)) throw new Error(`mesh-sim run bookinfo exited ${code} (ready seen: ${!Number.isNaN(readyMs)}): ${text.slice(-400)}`);
  return readyMs;
}

async function bookinfoBenchmarks(): Promise<Record<string, unknown>> {
  log('Bookinfo: the command to ready, three times');
  const toReady: number[] = [];
  for (let i = 0; i < 3; i++) toReady.push(await commandToReady());
  log('Bookinfo: time to the first complete trace, and memory per instance');
  const { session, firstTraceMs, startupMs } = await firstTrace('process');
  await new Promise((r) => setTimeout(r, 3000));
  const runtime = session.runtime as ProcessRuntime;
  const instances = session.instancePlans.length;
  const parts = await Promise.all(runtime.pids().map(memoryOf));
  const own = await memoryOf(process.pid);
  await session.finish();
  const mb = (bytes: number) => round(bytes / 1024 / 1024, 1);
  const sum = (pick: (m: Memory) => number) => parts.reduce((s, m) => s + pick(m), 0);
  return {
    // In this process, from loading the scenario: what the session itself takes.
    firstCompleteTraceMs: round(firstTraceMs, 0),
    startupMs: round(startupMs, 0),
    // As a user sees it: the command's own start to ready, then ready to the first trace.
    commandToReadyMs: toReady.map((ms) => round(ms, 0)),
    fromCommandMs: round(median(toReady) + firstTraceMs - startupMs, 0),
    firstTraceTarget: '<= 1000 ms from `run` start (fromCommandMs: the command to ready, measured, plus ready to the first trace)',
    memory: {
      instances,
      nodeProcesses: runtime.nodeProcesses,
      podsPssMB: mb(sum((m) => m.pss)),
      podsRssMB: mb(sum((m) => m.rss)),
      meshSimPssMB: mb(own.pss),
      allPssMB: mb(sum((m) => m.pss) + own.pss),
      perInstancePssMB: mb(sum((m) => m.pss) / instances),
      target: '<= 300 MB PSS in all (every node, and mesh-sim with its control plane and collector)',
      note: 'pods are packed on node processes (one per core): PSS divides shared pages among their sharers',
    },
  };
}

const only = process.argv[2];
/** `soak` runs alone, for its minutes (10 unless given): it is not part of the default run. */
const soakMinutes = only === 'soak' ? Math.max(1, Math.min(60, Number(process.argv[3] ?? 10) || 10)) : 0;

// However it ends, the bench ends: a hung measurement is a failure, not a wait.
const limitMinutes = only === 'soak' ? soakMinutes + 5 : only === 'scale' ? 20 : 5;
setTimeout(() => {
  log(`took longer than ${limitMinutes} minutes: giving up`);
  process.exit(1);
}, limitMinutes * 60_000).unref();

const results: Record<string, unknown> = { node: process.version, cpus: (await import('node:os')).cpus().length };
if (only === 'soak') {
  log(`soak: Bookinfo at a steady 200 rps for ${soakMinutes} minutes, memory of every mesh-sim process each minute`);
  const { soak } = await import('./soak.js');
  results.soak = await soak(soakMinutes, log);
  process.stdout.write(JSON.stringify(results, null, 2) + '\n');
  process.exit(0);
}
if (only === 'scale' || only === 'fidelity') {
  const { scaleBenchmark, fidelityBenchmark } = await import('./scale.js');
  if (only === 'scale') results.scale = await scaleBenchmark((process.argv[3] ?? '10,50,100,200').split(',').map(Number), log);
  else results.fidelity = await fidelityBenchmark(log);
  process.stdout.write(JSON.stringify(results, null, 2) + '\n');
  process.exit(0);
}
if (!only || only === 'sidecar') results.sidecar = await sidecarBenchmarks();
if (!only || only === 'mtls') results.mtls = await mtlsBenchmarks();
if (!only || only === 'bookinfo') results.bookinfo = await bookinfoBenchmarks();
if (!only || only === 'docker') results.docker = await dockerBenchmarks();
if (!only || only === 'ui') {
  log('UI: ingest and frame time at 2,000 spans/s, then at 4x that');
  process.env.NODE_ENV ??= 'production';
  const { uiBenchmark, uiSoak } = await import('./ui.js');
  const at2000 = await uiBenchmark(2000, 8);
  const at8000 = await uiBenchmark(8000, 6);
  log('UI: an hour at 2,000 spans/s on a simulated clock (memory over time)');
  results.ui = { at2000, at8000, hourAt2000: await uiSoak(2000, 3600) };
}
process.stdout.write(JSON.stringify(results, null, 2) + '\n');
process.exit(0);
