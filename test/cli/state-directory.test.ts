// The run records live in a directory only their user may use, and clean-up deletes
// nothing outside it, whatever a record says.
import test from 'ava';
import { mkdtemp, mkdir, writeFile, symlink, stat, access, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, scenarioFile } from '../helpers/cli.js';

const quiet = 'name: quiet\nservices:\n  a: {}\n';

test('a run makes its state directory private (0700), and tightens one it finds open', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'mesh-sim-state-'));
  const state = join(base, 'state');
  await mkdir(state, { mode: 0o777 });
  await chmod(state, 0o777);
  const result = await runCli(['run', await scenarioFile(quiet), '--duration', '1s'], { env: { MESH_SIM_STATE_DIR: state }, timeoutMs: 60_000 });
  t.is(result.code, 0, result.stderr);
  t.is((await stat(state)).mode & 0o777, 0o700);
  t.is((await stat(join(state, 'runs'))).mode & 0o777, 0o700);
});

test('a state directory that is a symlink is refused, with exit 2 and what to do', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'mesh-sim-state-'));
  await mkdir(join(base, 'elsewhere'));
  await symlink(join(base, 'elsewhere'), join(base, 'state'));
  const result = await runCli(['run', await scenarioFile(quiet), '--duration', '1s'], { env: { MESH_SIM_STATE_DIR: join(base, 'state') }, timeoutMs: 60_000 });
  t.is(result.code, 2);
  t.regex(result.stderr, /state is a symbolic link: mesh-sim keeps its run records there and will not use it \(set MESH_SIM_STATE_DIR/);
  t.notRegex(result.stderr, /at .*\.js:\d+/, 'no stack trace');
});

test("`down` deletes only what lies inside the state directory, whatever a dead run's record names", async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'mesh-sim-state-'));
  const state = join(base, 'state');
  const precious = join(base, 'precious');
  await mkdir(precious);
  await writeFile(join(precious, 'keep.txt'), 'mine');
  const inside = join(state, 'scratch', 'deadrun-prometheus');
  await mkdir(inside, { recursive: true });
  await mkdir(join(state, 'runs'), { recursive: true, mode: 0o700 });
  await writeFile(join(state, 'runs', 'deadrun.json'), JSON.stringify({
    runId: 'deadrun', runtime: 'process', owner: 999_999_999, startedAt: new Date().toISOString(), members: [], directories: [precious, inside, '/'],
  }));
  const down = await runCli(['down'], { env: { MESH_SIM_STATE_DIR: state } });
  t.is(down.code, 0, down.stderr);
  await t.notThrowsAsync(access(join(precious, 'keep.txt')), 'a directory outside the state directory is left alone');
  await t.throwsAsync(access(inside), undefined, "the run's own scratch directory is gone");
});
