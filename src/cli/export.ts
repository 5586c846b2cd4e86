// `mesh-sim export FILE --kubernetes DIR`: the scenario as a Kubernetes cluster with
// Istio runs it (src/export/kubernetes.ts), written into DIR. DIR must be new or empty
// unless --force: an export never overwrites what it did not write.

import { readdir, stat, writeFile, chmod } from 'node:fs/promises';
import { makeDirectory } from '../make-directory.js';
import { dirname, join, resolve } from 'node:path';
import { exportKubernetes, ExportError } from '../export/kubernetes.js';
import { parseDuration, formatDuration } from '../scenario/units.js';
import { VERSION } from '../version.js';
import { EXIT, UserError } from './exit-codes.js';
import { loadOrExplain, parseSeed } from './run.js';
import type { Output } from './validate.js';

export interface ExportOptions {
  kubernetes?: string;
  image?: string;
  namespace?: string;
  seed?: string;
  duration?: string;
  force?: boolean;
}

export const DEFAULT_IMAGE = `mesh-sim:${VERSION}`;
const DEFAULT_DURATION_MS = 5 * 60_000;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export async function exportCommand(file: string, options: ExportOptions, output: Output): Promise<number> {
  if (!options.kubernetes) throw new UserError('say where to write: --kubernetes DIR (the only target so far)');
  const namespace = options.namespace ?? 'default';
  if (!NAMESPACE.test(namespace)) throw new UserError(`--namespace takes a Kubernetes name (lower-case letters, digits and dashes), not \`${namespace}\``);
  let durationMs: number | undefined;
  if (options.duration !== undefined) {
    durationMs = parseDuration(options.duration);
    if (durationMs === undefined || durationMs <= 0) throw new UserError(`--duration takes a duration such as 30s or 2m, not \`${options.duration}\``);
  }
  const seed = parseSeed(options.seed);
  const loaded = await loadOrExplain(file, output);
  if (!loaded) return EXIT.badInput;
  const { scenario, states } = loaded;
  const dir = resolve(options.kubernetes);
  const existing = await readdir(dir).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    if (error.code === 'ENOTDIR') {
      const isFile = await stat(dir).then((info) => info.isFile(), () => false);
      throw new UserError(isFile ? `${options.kubernetes} is a file, not a directory` : `${options.kubernetes} cannot be made: a part of its path is a file`);
    }
    throw new UserError(`cannot read ${options.kubernetes}: ${error.message}`);
  });
  if (existing.length > 0 && !options.force) {
    throw new UserError(`${options.kubernetes} is not empty: name a new directory, or add --force to write over the files an earlier export left there`);
  }
  let files;
  try {
    files = exportKubernetes(scenario, states, {
      image: options.image ?? DEFAULT_IMAGE,
      namespace,
      seed: seed ?? scenario.seed ?? 42,
      durationMs: durationMs ?? scenario.durationMs ?? DEFAULT_DURATION_MS,
      file,
    });
  } catch (error) {
    if (error instanceof ExportError) throw new UserError(`${file}: ${error.message}`);
    throw error;
  }
  try {
    for (const [path, content] of files) {
      const target = join(dir, path);
      await makeDirectory(dirname(target));
      await writeFile(target, content);
      if (path.endsWith('.sh')) await chmod(target, 0o755);
    }
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    throw new UserError(`cannot write ${options.kubernetes}: ${code ?? message}${code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? ' (not a directory you may write to)' : ''}`);
  }
  output.err(`wrote ${files.size} files to ${options.kubernetes} for namespace ${namespace}, image ${options.image ?? DEFAULT_IMAGE}, traffic for ${formatDuration(durationMs ?? scenario.durationMs ?? DEFAULT_DURATION_MS)}`);
  output.out(`next: mesh-sim image build --tag ${options.image ?? DEFAULT_IMAGE} && kubectl apply -f ${options.kubernetes} && sh ${join(options.kubernetes, 'timeline.sh')}  (see ${join(options.kubernetes, 'README.md')})`);
  return EXIT.ok;
}
