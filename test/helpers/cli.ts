// Running the built `mesh-sim` binary as a user would, and collecting what it printed.

import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/version.js';

/** The command as installed: the bundle `npm run build` makes (scripts/bundle.mjs), as package.json's bin names it. */
export const BIN = join(PACKAGE_ROOT, 'dist', 'bundle', 'mesh-sim.js');

/** A scenario written to a fresh temporary directory, for the CLI to read as a user's file. */
export async function scenarioFile(text: string, name = 'scenario.yaml'): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'mesh-sim-cli-')), name);
  await writeFile(file, text);
  return file;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? PACKAGE_ROOT,
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mesh-sim ${args.join(' ')} did not finish in ${options.timeoutMs ?? 60_000} ms\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * What a run printed with --json, parsed; when it printed none, a failure that says why
 * (its exit code and what it said on stderr), not a bare JSON syntax error.
 */
export function jsonOf<T = unknown>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`mesh-sim printed no JSON (exit ${result.code ?? result.signal}); stdout: ${JSON.stringify(result.stdout.slice(0, 400))}; stderr:\n${result.stderr.slice(-4000)}`);
  }
}

/** Processes (other than `except`) whose environment carries MESH_SIM_TEST_TAG=tag: what a run left behind. */
export async function processesTagged(tag: string): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = await readFile(`/proc/${entry}/environ`, 'utf8');
      if (environ.split('\0').includes(`MESH_SIM_TEST_TAG=${tag}`)) found.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}

/** The reaper of a run started with MESH_SIM_TEST_TAG=tag (its environment names it). */
export async function reaperTagged(tag: string): Promise<number | undefined> {
  const { readFile } = await import('node:fs/promises');
  for (const pid of await processesTagged(tag)) {
    try {
      if ((await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').some((v) => v.startsWith('MESH_SIM_REAPER='))) return pid;
    } catch {
      // Gone.
    }
  }
  return undefined;
}

/** Waits up to `timeoutMs` for `done` to hold, checking every 200 ms. */
export async function eventually(done: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Starts the CLI and hands back the child, for tests that signal it. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): { child: import('node:child_process').ChildProcess; result: Promise<CliResult> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: PACKAGE_ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, result };
}
