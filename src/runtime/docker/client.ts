// The Docker client the Docker runtime, its images and its clean-up speak to: a small
// interface of what mesh-sim asks of the Engine API (containers, networks, images), as
// testcontainers-node puts its client behind one. dockerode implements it here and
// nowhere else; a test can hand the runtime a fake that fails where it likes.

import { createRequire } from 'node:module';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { LineSplitter } from '../lines.js';

/** The Engine API's container-create body (what `docker create` sends). */
export type ContainerCreateBody = Docker.ContainerCreateOptions;

export interface ContainerSummary {
  id: string;
  labels: Record<string, string>;
}

export interface ContainerState {
  running: boolean;
  /** The address on each network, by network name. */
  addresses: Record<string, string>;
  /** Host ports published, by `PORT/tcp`. */
  published: Record<string, number>;
}

export interface ContainerClient {
  create(body: ContainerCreateBody): Promise<string>;
  start(id: string): Promise<void>;
  /** SIGTERM, then SIGKILL after `seconds`. */
  stop(id: string, seconds: number): Promise<void>;
  kill(id: string, signal: string): Promise<void>;
  remove(id: string): Promise<void>;
  inspect(id: string): Promise<ContainerState>;
  /** Resolves with the exit code when the container's current run ends. */
  wait(id: string): Promise<number | null>;
  /** Follows its output from `since` (seconds since the epoch), line by line, until it ends. */
  follow(id: string, since: number, onLine: (stream: 'stdout' | 'stderr', text: string) => void): Promise<void>;
  /** Every container, running or not, carrying `label`. */
  list(label: string): Promise<ContainerSummary[]>;
  /** Runs `cmd` inside a running container (`docker exec`), and says how it ended and what it wrote. */
  exec(id: string, cmd: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

export interface NetworkClient {
  /** A user-defined bridge network; its gateway is the address containers reach this host on. */
  create(name: string, labels: Record<string, string>): Promise<{ id: string; gateway: string | undefined }>;
  remove(id: string): Promise<void>;
  list(label: string): Promise<ContainerSummary[]>;
}

export interface ImageClient {
  exists(name: string): Promise<boolean>;
  /** `docker import`: an image from a tar of its root file system, with Dockerfile-style `changes` (CMD, USER). */
  importTar(tar: NodeJS.ReadableStream, repo: string, tag: string, changes?: string[]): Promise<void>;
  /** Image ids and tags under a repository name. */
  list(repo: string): Promise<Array<{ id: string; tags: string[] }>>;
  remove(id: string): Promise<void>;
  /** A pull from its registry; rejects with the registry's words. */
  pull(name: string): Promise<void>;
  /** Gives an image another name (`repo:tag`). */
  tag(image: string, name: string): Promise<void>;
  /** A push to the registry its name points at; rejects with the registry's words. */
  push(name: string): Promise<void>;
}

export interface DockerClient {
  /** Where the daemon is, as a user would name it. */
  readonly where: string;
  ping(): Promise<void>;
  containers: ContainerClient;
  networks: NetworkClient;
  images: ImageClient;
}

/** `registry:5000/team/app:1` → repo `registry:5000/team/app`, tag `1` (latest when none). */
export function splitName(name: string): { repo: string; tag: string } {
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? { repo: name.slice(0, colon), tag: name.slice(colon + 1) } : { repo: name, tag: 'latest' };
}

/** The daemon's error in its own words. */
export function dockerError(error: unknown): string {
  const e = error as { message?: string; json?: { message?: string }; reason?: string };
  return e.json?.message ?? e.reason ?? e.message ?? String(error);
}

/**
 * dockerode, loaded when a Docker client is first made: with its gRPC and SSH stacks it
 * took 70-100 ms to load, which every command paid, Docker or not.
 */
function loadDockerode(): typeof Docker {
  return createRequire(import.meta.url)('dockerode') as typeof Docker;
}

/** The client on dockerode: DOCKER_HOST, or the local socket. */
export function connectDocker(docker: Docker = new (loadDockerode())()): DockerClient {
  const follow = (stream: NodeJS.ReadableStream) => new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (error: Error | null) => (error ? reject(error) : resolve()));
  });
  const containers: ContainerClient = {
    async create(body) {
      return (await docker.createContainer(body)).id;
    },
    async start(id) {
      await docker.getContainer(id).start();
    },
    async stop(id, seconds) {
      await docker.getContainer(id).stop({ t: seconds });
    },
    async kill(id, signal) {
      await docker.getContainer(id).kill({ signal });
    },
    async remove(id) {
      await docker.getContainer(id).remove({ force: true, v: true });
    },
    async inspect(id) {
      const info = await docker.getContainer(id).inspect();
      const addresses: Record<string, string> = {};
      for (const [name, net] of Object.entries(info.NetworkSettings.Networks ?? {})) if (net.IPAddress) addresses[name] = net.IPAddress;
      const published: Record<string, number> = {};
      for (const [port, bindings] of Object.entries(info.NetworkSettings.Ports ?? {})) {
        const host = bindings?.[0]?.HostPort;
        if (host) published[port] = Number(host);
      }
      return { running: info.State.Running, addresses, published };
    },
    async wait(id) {
      const result = await docker.getContainer(id).wait() as { StatusCode?: number };
      return result.StatusCode ?? null;
    },
    async follow(id, since, onLine) {
      const stream = await docker.getContainer(id).logs({ follow: true, stdout: true, stderr: true, since }) as unknown as NodeJS.ReadableStream;
      const out = new PassThrough();
      const err = new PassThrough();
      const stdout = new LineSplitter((text) => onLine('stdout', text));
      const stderr = new LineSplitter((text) => onLine('stderr', text));
      out.pipe(stdout);
      err.pipe(stderr);
      docker.modem.demuxStream(stream, out, err);
      await new Promise<void>((resolve) => {
        stream.on('end', () => resolve());
        stream.on('close', () => resolve());
        stream.on('error', () => resolve());
      });
      out.end();
      err.end();
    },
    async list(label) {
      const found = await docker.listContainers({ all: true, filters: { label: [label] } });
      return found.map((c) => ({ id: c.Id, labels: c.Labels ?? {} }));
    },
    async exec(id, cmd) {
      const exec = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
      const stream = await exec.start({ hijack: true, stdin: false });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const stdout = new PassThrough().on('data', (c: Buffer) => out.push(c));
      const stderr = new PassThrough().on('data', (c: Buffer) => err.push(c));
      docker.modem.demuxStream(stream, stdout, stderr);
      await new Promise<void>((resolve) => {
        stream.on('end', () => resolve());
        stream.on('close', () => resolve());
        stream.on('error', () => resolve());
      });
      const { ExitCode } = await exec.inspect();
      return { code: ExitCode ?? null, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
    },
  };
  const networks: NetworkClient = {
    async create(name, labels) {
      const network = await docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: labels });
      const info = await network.inspect() as { IPAM?: { Config?: Array<{ Gateway?: string }> } };
      return { id: network.id, gateway: info.IPAM?.Config?.[0]?.Gateway };
    },
    async remove(id) {
      await docker.getNetwork(id).remove();
    },
    async list(label) {
      const found = await docker.listNetworks({ filters: { label: [label] } });
      return found.map((n) => ({ id: n.Id, labels: n.Labels ?? {} }));
    },
  };
  const images: ImageClient = {
    async exists(name) {
      try {
        await docker.getImage(name).inspect();
        return true;
      } catch {
        return false;
      }
    },
    async importTar(tar, repo, tag, changes = []) {
      await follow(await docker.importImage(tar, { repo, tag, ...(changes.length > 0 ? { changes } : {}) }));
    },
    async list(repo) {
      const found = await docker.listImages({ filters: { reference: [repo] } });
      return found.map((i) => ({ id: i.Id, tags: i.RepoTags ?? [] }));
    },
    async remove(id) {
      await docker.getImage(id).remove();
    },
    async pull(name) {
      await follow(await docker.pull(name));
    },
    async tag(image, name) {
      const { repo, tag } = splitName(name);
      await docker.getImage(image).tag({ repo, tag });
    },
    async push(name) {
      const { repo, tag } = splitName(name);
      await follow(await docker.getImage(`${repo}:${tag}`).push({ tag }) as unknown as NodeJS.ReadableStream);
    },
  };
  return {
    where: process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock',
    async ping() {
      await docker.ping();
    },
    containers,
    networks,
    images,
  };
}
