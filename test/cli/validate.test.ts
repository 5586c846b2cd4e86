import test from 'ava';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, scenarioFile } from '../helpers/cli.js';

test('validate accepts every shipped scenario and says what each holds', async (t) => {
  const files = (await readdir('scenarios')).filter((f) => f.endsWith('.yaml')).map((f) => join('scenarios', f));
  t.true(files.length >= 5);
  const result = await runCli(['validate', ...files]);
  t.is(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  t.is(lines.length, files.length);
  for (const line of lines) t.regex(line, /^ok [a-z0-9-]+ \(\d+ services?, \d+ flows?, \d+ events?\)$/);
  t.true(lines.includes('ok bookinfo (4 services, 2 flows, 10 events)'));
});

test('a misspelt key fails validation with exit 2, naming the line and the right key', async (t) => {
  const file = await scenarioFile('name: typo\nservices:\n  web:\n    latency: 5ms\n    replcas: 2\n', 'typo.yaml');
  const result = await runCli(['validate', file]);
  t.is(result.code, 2);
  t.is(result.stdout, '');
  t.true(result.stderr.includes(`${file}:5:5: services.web.replcas: unknown key \`replcas\` (did you mean \`replicas\`?)`), result.stderr);
  t.regex(result.stderr, /: 1 problem\n$/);
  t.notRegex(result.stderr, /\n\s+at /, 'no stack trace');
});

test('validate reports each file, and fails if any one is bad', async (t) => {
  const result = await runCli(['validate', 'scenarios/bookinfo.yaml', 'no-such-file.yaml']);
  t.is(result.code, 2);
  t.is(result.stdout, 'ok bookinfo (4 services, 2 flows, 10 events)\n');
  t.regex(result.stderr, /^no-such-file\.yaml: no such file$/m);
});

test('validate prints warnings but exits 0 for them', async (t) => {
  const file = await scenarioFile('name: w\nservices:\n  a: {calls: [b]}\n  b: {}\nmesh:\n  b:\n    retries: {attempts: 2}\n    fault: {abort: {httpStatus: 503}}\n', 'warn.yaml');
  const result = await runCli(['validate', file]);
  t.is(result.code, 0);
  t.regex(result.stderr, /:7:14: mesh\.b\.retries: warning: these retries never happen/);
  t.is(result.stdout, 'ok w (2 services, 0 flows, 0 events)\n');
});

test('--help lists one line per command, with examples', async (t) => {
  const result = await runCli(['--help']);
  t.is(result.code, 0);
  t.regex(result.stdout, /^Usage: mesh-sim /);
  t.regex(result.stdout, /^ {2}validate <files\.\.\.> +check scenario files/m);
  t.regex(result.stdout, /Examples:\n {2}mesh-sim up scenarios\/bookinfo\.yaml/);
});

test('COMMAND --help explains the command, its exit status and examples', async (t) => {
  const result = await runCli(['validate', '--help']);
  t.is(result.code, 0);
  t.regex(result.stdout, /Usage: mesh-sim validate \[options\] <files\.\.\.>/);
  t.regex(result.stdout, /Exit status: 0 when every file is valid, 2 when any has a problem/);
});

test('--version prints the package version', async (t) => {
  const result = await runCli(['--version']);
  t.is(result.code, 0);
  t.regex(result.stdout, /^\d+\.\d+\.\d+\n$/);
});

test('an unknown command or option exits 2 with a hint, not a stack trace', async (t) => {
  const unknown = await runCli(['frobnicate']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /unknown command 'frobnicate'/);
  t.regex(unknown.stderr, /mesh-sim --help/);
  const missing = await runCli(['validate']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /missing required argument 'files'/);
});

test('output cut short by a closed pipe (| head) ends quietly, without a stack trace', async (t) => {
  const { spawn } = await import('node:child_process');
  const { BIN } = await import('../helpers/cli.js');
  const child = spawn(process.execPath, [BIN, 'run', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // The reader is gone before the first write: that write meets EPIPE, as under `| head`.
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.is(code, 0);
  t.notRegex(stderr, /EPIPE|\n\s+at /);
});
