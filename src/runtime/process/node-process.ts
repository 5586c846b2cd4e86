// The process runtime's handle on one node process (node-main.ts): starts it, sends it
// pods to start, stop and kill, and hands back what it reports: each container's exit,
// each line a pod writes, and the node's own end (a crashed node takes its pods along).

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LineSplitter } from '../lines.js';
import { NODE_ENV, type HostedContainer, type NodeBoot, type NodeReport, type NodeRequest } from './node-protocol.js';

const NODE_MAIN = fileURLToPath(new URL('./node-main.js', import.meta.url));
/** The node's own last stderr lines, to explain its end. */
const LAST_WORDS = 12;

export interface NodeListener {
  exit(pod: string, container: 'app' | 'sidecar', launch: number, code: number | null, signal: string | null): void;
  line(pod: string, container: 'app' | 'sidecar', stream: 'stdout' | 'stderr', text: string): void;
  /** How busy the node's event loop was over its last second (0 to 1). */
  load(node: string, busy: number): void;
  /** The node itself ended: every pod on it is gone. */
  nodeExit(node: NodeProcess, code: number | null, signal: string | null, lastWords: string[]): void;
}

/** For profiling the pods' work: MESH_SIM_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
export const nodeFlags = (): string[] => (process.env.MESH_SIM_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');

export class NodeProcess {
  private readonly child: ChildProcess;
  /** Pods placed here (for placement: the least loaded node takes the next pod). */
  readonly pods = new Set<string>();
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  private readonly lastWords: string[] = [];

  constructor(readonly boot: NodeBoot, listener: NodeListener, extraEnv: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [...nodeFlags(), NODE_MAIN], {
      env: { ...process.env, ...extraEnv, [NODE_ENV]: JSON.stringify(boot), NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Its own process group: a Ctrl-C reaches mesh-sim, which stops the nodes in order.
      detached: true,
    });
    this.child.stdout!.pipe(new LineSplitter((text) => {
      const first = text.indexOf(' ');
      const second = text.indexOf(' ', first + 1);
      const third = text.indexOf(' ', second + 1);
      if (first < 0 || second < 0 || third < 0) return;
      const container = text.slice(first + 1, second);
      const stream = text.slice(second + 1, third);
      if ((container !== 'app' && container !== 'sidecar') || (stream !== 'stdout' && stream !== 'stderr')) return;
      listener.line(text.slice(0, first), container, stream, text.slice(third + 1));
    }));
    this.child.stderr!.pipe(new LineSplitter((text) => {
      this.lastWords.push(text);
      if (this.lastWords.length > LAST_WORDS) this.lastWords.shift();
    }));
    this.ready = new Promise((resolve, reject) => {
      this.child.once('error', reject);
      this.child.on('message', (message: NodeReport) => {
        if (message.op === 'ready') resolve();
        else if (message.op === 'exit') listener.exit(message.pod, message.container, message.launch, message.code, message.signal);
        else if (message.op === 'load') listener.load(boot.node, message.busy);
      });
      this.child.once('exit', (code) => reject(new Error(`node ${boot.node} exited with code ${code} before it was ready: ${this.lastWords.join(' ')}`)));
    });
    this.ready.catch(() => {});
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        listener.nodeExit(this, code, signal, [...this.lastWords]);
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private send(request: NodeRequest): void {
    if (this.child.connected) this.child.send(request);
  }

  start(pod: string, launch: number, containers: HostedContainer[]): void {
    this.pods.add(pod);
    this.send({ op: 'start', pod, launch, containers });
  }

  stopContainer(pod: string, container: 'app' | 'sidecar'): void {
    this.send({ op: 'stop', pod, container });
  }

  killContainer(pod: string, container: 'app' | 'sidecar'): void {
    this.send({ op: 'kill', pod, container });
  }

  /** Asks the node to end (it stops what it still hosts, flushing), then makes sure it has, after `graceMs`. */
  async close(graceMs: number): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([this.exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)))]);
    clearTimeout(timer);
    if (late && this.alive) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}
