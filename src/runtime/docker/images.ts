// Images for the Docker runtime, offline first. The runtime image (sidecars and sample
// workloads) is built on this machine when missing: a root file system holding the
// node binary mesh-sim runs on, its shared libraries, and mesh-sim's own built code,
// turned into an image with `docker import`. No registry is needed. Its tag carries
// mesh-sim's version and a hash of the code, so a new version never runs an old image.
// Third-party images (Prometheus, Grafana) are pulled when they can be; Prometheus can
// also be built from a local binary.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { pack } from 'tar-stream';
import { PACKAGE_ROOT, VERSION } from '../../version.js';
import type { DockerClient } from './client.js';

const execFileAsync = promisify(execFile);

/** The packages a sidecar, sample workload or traffic generator loads at run time (the rest serve the CLI). */
const CONTAINER_PACKAGES = ['@peculiar/x509', 'prom-client', 're2js', 'reflect-metadata', 'undici'];
export const NODE_IN_IMAGE = '/usr/local/bin/node';
export const APP_IN_IMAGE = '/app';
export const IMAGE_USER = '1000:1000';

export interface Entry {
  /** Path inside the image, without a leading slash. */
  name: string;
  source?: string;
  content?: string;
  mode?: number;
  type?: 'directory';
}

/** The shared libraries (and loader) a dynamically linked binary needs, from ldd. */
export async function sharedLibraries(binary: string): Promise<string[]> {
  try {
    const { stdout } = await execFileAsync('ldd', [binary]);
    return [...stdout.matchAll(/(\/[^\s]+)\s+\(0x/g)].map((m) => m[1]!);
  } catch {
    // ldd says "not a dynamic executable" for a static binary: nothing to add.
    return [];
  }
}

async function listFiles(dir: string, keep: (path: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path, keep)));
    else if (entry.isFile() && keep(path)) out.push(path);
  }
  return out;
}

/** A package and every package it depends on, found as Node would find them. */
async function packageClosure(names: string[]): Promise<string[]> {
  const found = new Set<string>();
  const visit = async (name: string, from: string) => {
    for (let dir = from; ; dir = join(dir, '..')) {
      const candidate = join(dir, 'node_modules', name);
      try {
        const manifest = JSON.parse(await readFile(join(candidate, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
        if (found.has(candidate)) return;
        found.add(candidate);
        for (const dep of Object.keys(manifest.dependencies ?? {})) await visit(dep, candidate);
        return;
      } catch {
        if (dir === '/' || dir === PACKAGE_ROOT.replace(/\/$/, '')) break;
      }
    }
    throw new Error(`cannot find the package ${name}, which the containers need: run npm install`);
  };
  for (const name of names) await visit(name, PACKAGE_ROOT);
  return [...found];
}

export function baseEntries(): Entry[] {
  return [
    { name: 'etc/passwd', content: 'root:x:0:0::/root:/sbin/nologin\nmesh:x:1000:1000::/tmp:/sbin/nologin\nnobody:x:65534:65534::/:/sbin/nologin\n' },
    { name: 'etc/group', content: 'root:x:0:\nmesh:x:1000:\nnogroup:x:65534:\n' },
    { name: 'etc/nsswitch.conf', content: 'hosts: files dns\n' },
    { name: 'tmp', type: 'directory', mode: 0o1777 },
  ];
}

export async function binaryEntries(binary: string, target: string): Promise<Entry[]> {
  const entries: Entry[] = [{ name: target.replace(/^\//, ''), source: binary, mode: 0o755 }];
  for (const lib of await sharedLibraries(binary)) entries.push({ name: lib.replace(/^\//, ''), source: lib, mode: 0o755 });
  return entries;
}

async function nodeImageEntries(): Promise<Entry[]> {
  const entries = [...baseEntries(), ...(await binaryEntries(process.execPath, NODE_IN_IMAGE))];
  entries.push({ name: 'app/package.json', source: join(PACKAGE_ROOT, 'package.json') });
  const dist = join(PACKAGE_ROOT, 'dist', 'src');
  for (const file of await listFiles(dist, (p) => p.endsWith('.js'))) entries.push({ name: `app/dist/src/${relative(dist, file)}`, source: file });
  for (const pkg of await packageClosure(CONTAINER_PACKAGES)) {
    for (const file of await listFiles(pkg, (p) => !p.includes(`${pkg}/node_modules/`) && !/\.(md|ts|map)$/.test(p))) {
      entries.push({ name: `app/node_modules/${relative(join(PACKAGE_ROOT, 'node_modules'), file)}`, source: file });
    }
  }
  return entries;
}

/** A hash of what goes into the image: the node binary's identity and the code's bytes. */
async function fingerprint(entries: Entry[]): Promise<string> {
  const hash = createHash('sha256');
  for (const entry of [...entries].sort((a, b) => a.name.localeCompare(b.name))) {
    hash.update(entry.name);
    if (entry.content !== undefined) hash.update(entry.content);
    else if (entry.source) {
      const info = await stat(entry.source);
      // Binaries and libraries by size and time; mesh-sim's own files by content.
      if (info.size > 4 * 1024 * 1024 || entry.name.startsWith('usr/') || entry.name.startsWith('lib')) hash.update(`${info.size}:${info.mtimeMs}`);
      else hash.update(await readFile(entry.source));
    }
  }
  return hash.digest('hex').slice(0, 10);
}

async function tarStream(entries: Entry[]): Promise<NodeJS.ReadableStream> {
  const tar = pack();
  const dirs = new Set<string>();
  const ensureDirs = (name: string) => {
    const parts = name.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!dirs.has(dir)) {
        dirs.add(dir);
        tar.entry({ name: dir, type: 'directory', mode: 0o755 });
      }
    }
  };
  void (async () => {
    try {
      for (const entry of entries) {
        ensureDirs(entry.name);
        if (entry.type === 'directory') {
          dirs.add(entry.name);
          tar.entry({ name: entry.name, type: 'directory', mode: entry.mode ?? 0o755 });
          continue;
        }
        const body = entry.content !== undefined ? Buffer.from(entry.content) : await readFile(entry.source!);
        await new Promise<void>((resolve, reject) => tar.entry({ name: entry.name, mode: entry.mode ?? 0o644 }, body, (e) => (e ? reject(e) : resolve())));
      }
      tar.finalize();
    } catch (error) {
      tar.destroy(error as Error);
    }
  })();
  return tar as unknown as NodeJS.ReadableStream;
}

/** An image from files, without a registry or a Dockerfile: `docker import` of their tar, with `changes` such as `CMD [...]`. */
export async function importEntries(docker: DockerClient, entries: Entry[], repo: string, tag: string, changes: string[] = []): Promise<void> {
  await docker.images.importTar(await tarStream(entries), repo, tag, changes);
}

/** The image sidecars and sample workloads run in: found, or built from the local Node.js. */
export async function ensureNodeImage(docker: DockerClient, progress: (m: string) => void): Promise<string> {
  const entries = await nodeImageEntries();
  const tag = `${VERSION}-${await fingerprint(entries)}`;
  const name = `mesh-sim-node:${tag}`;
  if (await docker.images.exists(name)) return name;
  if (process.platform !== 'linux') {
    throw new Error(`the image ${name} is missing, and it can only be built from a Linux node binary (this is ${process.platform}): run mesh-sim from Linux once, or use --runtime process`);
  }
  progress(`building the image ${name} from this machine's Node.js ${process.version} (no registry needed)`);
  await importEntries(docker, entries, 'mesh-sim-node', tag);
  await removeOlderTags(docker, 'mesh-sim-node', name);
  return name;
}

/**
 * mesh-sim's image under a name of the user's (`mesh-sim image build --tag`): what a
 * cluster's Deployments and traffic Job run. Built from this machine's Node.js, with
 * the same contents as the Docker runtime's.
 */
export async function buildNamedImage(docker: DockerClient, name: string, progress: (m: string) => void): Promise<string> {
  const built = await ensureNodeImage(docker, progress);
  await docker.images.tag(built, name);
  return built;
}

/** Earlier builds of an image mesh-sim made itself, when no container uses them: disks are not free. */
async function removeOlderTags(docker: DockerClient, repo: string, keep: string): Promise<void> {
  for (const image of await docker.images.list(repo).catch(() => [])) {
    if (image.tags.includes(keep)) continue;
    await docker.images.remove(image.id).catch(() => {
      // In use by a container, or already gone: leave it.
    });
  }
}

/** Tries to pull an image, giving up after `timeoutMs` (a registry out of reach may never answer). */
export async function tryPull(docker: DockerClient, image: string, timeoutMs: number): Promise<{ ok: true } | { ok: false; reason: string }> {
  let timer: NodeJS.Timeout | undefined;
  const attempt = docker.images.pull(image);
  try {
    await Promise.race([attempt, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer from the registry in ${timeoutMs / 1000}s`)), timeoutMs)))]);
    return { ok: true };
  } catch (error) {
    attempt.catch(() => {});
    return { ok: false, reason: (error as Error).message.split('\n')[0]! };
  } finally {
    clearTimeout(timer);
  }
}

export const PROMETHEUS_IMAGE = 'prom/prometheus:v2.53.0';
export const GRAFANA_IMAGE = 'grafana/grafana:10.4.2';
export const JAEGER_IMAGE = 'jaegertracing/all-in-one:1.60';

/** An image present here, or pulled; otherwise why not, in words for a note. */
export async function ensureImage(docker: DockerClient, image: string, progress: (message: string) => void): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (await docker.images.exists(image)) return { ok: true };
  progress(`pulling ${image}`);
  return tryPull(docker, image, 20_000);
}

/**
 * A Prometheus image: present, pulled, or built from a prometheus binary installed here
 * (Debian's `prometheus` package); undefined with the reason when none can be had.
 */
export async function ensurePrometheusImage(docker: DockerClient, progress: (m: string) => void, localBinary: string | undefined): Promise<{ image: string; binary: string } | { image: undefined; reason: string }> {
  if (await docker.images.exists(PROMETHEUS_IMAGE)) return { image: PROMETHEUS_IMAGE, binary: '/bin/prometheus' };
  if (localBinary) {
    const entries = [...baseEntries(), ...(await binaryEntries(localBinary, '/bin/prometheus')), { name: 'prometheus', type: 'directory' as const, mode: 0o1777 }];
    const tag = `local-${await fingerprint(entries)}`;
    const name = `mesh-sim-prometheus:${tag}`;
    if (!(await docker.images.exists(name))) {
      progress(`building a Prometheus image from ${localBinary}`);
      await importEntries(docker, entries, 'mesh-sim-prometheus', tag);
    }
    return { image: name, binary: '/bin/prometheus' };
  }
  progress(`pulling ${PROMETHEUS_IMAGE}`);
  const pulled = await tryPull(docker, PROMETHEUS_IMAGE, 20_000);
  if (pulled.ok) return { image: PROMETHEUS_IMAGE, binary: '/bin/prometheus' };
  return { image: undefined, reason: `cannot pull ${PROMETHEUS_IMAGE} (${pulled.reason}) and no prometheus binary is installed here` };
}
