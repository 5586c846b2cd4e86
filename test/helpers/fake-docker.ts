// A DockerClient that keeps containers in memory, records every call, and fails or
// stalls where a test says: the Docker runtime's behaviour under a daemon's failures,
// without a daemon.

import type { ContainerCreateBody, ContainerState, DockerClient } from '../../src/runtime/docker/client.js';

export interface FakeContainer {
  id: string;
  body: ContainerCreateBody;
  running: boolean;
  removed: boolean;
  /** Resolves the current wait() with an exit code. */
  exit?: (code: number) => void;
}

export class FakeDocker implements DockerClient {
  readonly where = 'unix:///fake.sock';
  readonly calls: string[] = [];
  readonly containers_: FakeContainer[] = [];
  /** Fails `start` of containers whose name matches, with Docker's words. */
  failStart: RegExp | undefined;
  /** Images that are not here (and, with `pullError`, cannot be pulled). */
  absent: RegExp | undefined;
  pullError: string | undefined;
  /** Delays `create` of containers whose name matches by this many ms. */
  slowCreate: { match: RegExp; ms: number } | undefined;
  private next = 0;

  live(): FakeContainer[] {
    return this.containers_.filter((c) => !c.removed);
  }

  private find(id: string): FakeContainer {
    const c = this.containers_.find((x) => x.id === id);
    if (!c || c.removed) throw Object.assign(new Error(`no such container: ${id}`), { statusCode: 404 });
    return c;
  }

  async ping(): Promise<void> {}

  containers = {
    create: async (body: ContainerCreateBody): Promise<string> => {
      this.calls.push(`create ${body.name}`);
      if (this.slowCreate?.match.test(body.name ?? '')) await new Promise((r) => setTimeout(r, this.slowCreate!.ms));
      const id = `c${(this.next++).toString().padStart(63, '0')}`;
      this.containers_.push({ id, body, running: false, removed: false });
      return id;
    },
    start: async (id: string): Promise<void> => {
      const c = this.find(id);
      this.calls.push(`start ${c.body.name}`);
      if (this.failStart?.test(c.body.name ?? '')) throw Object.assign(new Error('(HTTP code 400) unexpected - No command specified'), { json: { message: 'No command specified' } });
      c.running = true;
    },
    stop: async (id: string): Promise<void> => {
      const c = this.find(id);
      this.calls.push(`stop ${c.body.name}`);
      c.running = false;
      c.exit?.(0);
    },
    kill: async (id: string): Promise<void> => {
      const c = this.find(id);
      c.running = false;
      c.exit?.(137);
    },
    remove: async (id: string): Promise<void> => {
      const c = this.find(id);
      this.calls.push(`remove ${c.body.name}`);
      c.running = false;
      c.removed = true;
      c.exit?.(137);
    },
    inspect: async (id: string): Promise<ContainerState> => {
      const c = this.find(id);
      // Each exposed port published on a host port of its own, as Docker picks them.
      const published: Record<string, number> = { '15001/tcp': 40000 };
      Object.keys(c.body.ExposedPorts ?? {}).forEach((port, i) => (published[port] ??= 41000 + i));
      return { running: c.running, addresses: { [String(c.body.HostConfig?.NetworkMode)]: '10.0.0.2' }, published };
    },
    wait: (id: string): Promise<number | null> => new Promise((resolve) => {
      this.find(id).exit = (code) => resolve(code);
    }),
    follow: async (): Promise<void> => {},
    list: async (): Promise<Array<{ id: string; labels: Record<string, string> }>> =>
      this.live().map((c) => ({ id: c.id, labels: (c.body.Labels ?? {}) as Record<string, string> })),
    exec: async (id: string, cmd: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> => {
      this.calls.push(`exec ${id} ${cmd.join(' ')}`);
      return { code: 0, stdout: '', stderr: '' };
    },
  };

  networks = {
    create: async (name: string): Promise<{ id: string; gateway: string | undefined }> => {
      this.calls.push(`network ${name}`);
      return { id: `n-${name}`, gateway: '10.0.0.1' };
    },
    remove: async (): Promise<void> => {},
    list: async (): Promise<Array<{ id: string; labels: Record<string, string> }>> => [],
  };

  images = {
    exists: async (image: string): Promise<boolean> => !this.absent?.test(image),
    importTar: async (): Promise<void> => {},
    list: async (): Promise<Array<{ id: string; tags: string[] }>> => [],
    remove: async (): Promise<void> => {},
    pull: async (image: string): Promise<void> => {
      this.calls.push(`pull ${image}`);
      if (this.pullError && this.absent?.test(image)) throw new Error(this.pullError);
    },
    tag: async (): Promise<void> => {},
    push: async (): Promise<void> => {},
  };
}
