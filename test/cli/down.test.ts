import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { missingPrometheus, withPrometheus } from '../helpers/prometheus.js';
import { eventually, processesTagged, reaperTagged, runCli, scenarioFile, startCli } from '../helpers/cli.js';

const run = withPrometheus;

/**
 * Starts `mesh-sim run` with Prometheus, waits until it scrapes, then kills mesh-sim
 * with SIGKILL: nothing of its own cleanup runs. With `reaperToo`, its reaper dies at
 * the same moment (as when a whole session is killed), leaving the clean-up to `down`.
 */
async function killedRun(stateDir: string, tag: string, reaperToo: boolean): Promise<{ survivors: number[]; prometheusDir: string }> {
  const { child, result } = startCli(['run', 'scenarios/bookinfo.yaml', '--duration', '60s', '--prometheus'], { MESH_SIM_STATE_DIR: stateDir, MESH_SIM_TEST_TAG: tag });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 30_000;
  while (!/Prometheus http/.test(stderr) && Date.now() < deadline && child.exitCode === null) await sleep(100);
  if (!/Prometheus http/.test(stderr)) {
    child.kill('SIGKILL');
    throw new Error(`Prometheus did not start:\n${stderr}`);
  }
  const [record] = await readdir(join(stateDir, 'runs'));
  const { directories } = JSON.parse(await readFile(join(stateDir, 'runs', record!), 'utf8')) as { directories: string[] };
  const reaper = await reaperTagged(tag);
  if (reaper === undefined) throw new Error('the run has no reaper');
  if (reaperToo) process.kill(reaper, 'SIGKILL');
  child.kill('SIGKILL');
  await result;
  // The sidecars and apps notice their IPC channel close and leave; give them the time to.
  await sleep(1500);
  return { survivors: await processesTagged(tag), prometheusDir: directories[0]! };
}

/** A state directory holding one killed run whose Prometheus outlived it. */
async function afterKilledRun(t: ExecutionContext): Promise<{ stateDir: string; tag: string; prometheusDir: string }> {
  const stateDir = await mkdtemp(join(tmpdir(), 'mesh-sim-state-'));
  const tag = randomUUID();
  const { survivors, prometheusDir } = await killedRun(stateDir, tag, true);
  t.teardown(() => survivors.forEach((pid) => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }));
  t.true(survivors.length > 0, 'Prometheus has no IPC channel to mesh-sim, so with the reaper dead too it outlives a kill -9');
  t.true(await exists(prometheusDir));
  return { stateDir, tag, prometheusDir };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

run("after kill -9, the run's reaper stops what it left: a user's command, Prometheus, its data and its record", async (t) => {
  if (missingPrometheus(t)) return;
  const stateDir = await mkdtemp(join(tmpdir(), 'mesh-sim-state-'));
  const tag = randomUUID();
  // A user's command as well: it has no IPC channel, and runs as a process group of its own.
  const scenario = await scenarioFile(`
name: reaped
services:
  web: {calls: [mine]}
  mine:
    command: node -e "require('http').createServer((q, r) => r.end('ok')).listen(process.env.PORT)"
traffic: [{to: web, rps: 10}]
`);
  const { child, result } = startCli(['run', scenario, '--duration', '60s', '--prometheus'], { MESH_SIM_STATE_DIR: stateDir, MESH_SIM_TEST_TAG: tag });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  t.true(await eventually(async () => /Prometheus http/.test(stderr) || child.exitCode !== null, 30_000), stderr);
  const [record] = await readdir(join(stateDir, 'runs'));
  const { directories } = JSON.parse(await readFile(join(stateDir, 'runs', record!), 'utf8')) as { directories: string[] };
  t.true((await processesTagged(tag)).length >= 6, 'the mesh, its Prometheus and its reaper are running');
  child.kill('SIGKILL');
  await result;
  const gone = await eventually(async () => (await processesTagged(tag)).length === 0, 15_000);
  t.teardown(async () => (await processesTagged(tag)).forEach((pid) => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }));
  t.true(gone, `left running: ${(await processesTagged(tag)).join(', ')}`);
  t.false(await exists(directories[0]!), "Prometheus' scratch data is gone");
  t.deepEqual(await readdir(join(stateDir, 'runs')), [], 'and so is the run record');
});

run('mesh-sim down stops what a killed run left running and deletes its Prometheus data', async (t) => {
  if (missingPrometheus(t)) return;
  const { stateDir, tag, prometheusDir } = await afterKilledRun(t);

  const down = await runCli(['down'], { env: { MESH_SIM_STATE_DIR: stateDir } });
  t.is(down.code, 0, down.stderr);
  t.regex(down.stdout, /removed .*1 process of the process runtime/);
  await sleep(500);
  t.deepEqual(await processesTagged(tag), [], 'nothing of the killed run is left');
  t.false(await exists(prometheusDir), 'its scratch data is gone');
  t.deepEqual(await readdir(join(stateDir, 'runs')), [], 'and so is its record');

  const again = await runCli(['down'], { env: { MESH_SIM_STATE_DIR: stateDir } });
  t.regex(again.stdout, /^nothing to remove/);
});

run('the next run cleans up after a killed one before it starts', async (t) => {
  if (missingPrometheus(t)) return;
  const { stateDir, tag, prometheusDir } = await afterKilledRun(t);

  // A scenario with no checks: this run is judged on its clean-up, not on a second of latency.
  const scenario = await scenarioFile('name: next\nservices:\n  web: {}\ntraffic: [{to: web, rps: 10}]\n');
  const next = await runCli(['run', scenario, '--duration', '1s', '--json'], { env: { MESH_SIM_STATE_DIR: stateDir }, timeoutMs: 60_000 });
  t.is(next.code, 0, next.stderr);
  t.regex(next.stderr, /stopped 1 process left by 1 earlier run whose mesh-sim is gone/);
  t.deepEqual(await processesTagged(tag), []);
  t.false(await exists(prometheusDir));
});
