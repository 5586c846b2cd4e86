// A node: one process hosting many pods' sidecars and sample workloads on one event
// loop, as Kubernetes packs pods onto a node. Each pod keeps what makes it a pod: its
// own listeners and ports, identity, metrics endpoint and access-log stream; a kill
// makes exactly that pod vanish (its sockets close as a crashed process's would). What
// is per process is shared: one control-plane connection, one span batcher, one timer.
//
// The process runtime talks to it over IPC: `start`, `stop` and `kill` a pod's
// containers; it answers `exit` for each container that ends, and `load` each second
// its event loop is busy serving requests (so mesh-sim can say when it cannot keep up).
// Every pod's output comes on stdout, one line each: `POD CONTAINER STREAM TEXT`.

import { NodeSubscription } from '../../control/node-client.js';
import { SIDECAR_ENV, type SidecarBoot } from '../../sidecar/boot.js';
import { Sidecar } from '../../sidecar/sidecar.js';
import { everyQuarterSecond, type SidecarHost } from '../../sidecar/host.js';
import { OtlpHttpExporter, SpanBatcher } from '../../sidecar/telemetry.js';
import { Workload } from '../../workload/server.js';
import { TcpEcho } from '../../workload/tcp-echo.js';
import { WORKLOAD_ENV, type WorkloadBoot } from '../../workload/boot.js';
import type { Subscription } from '../../control/client.js';
import { readBootEnv } from '../boot-env.js';
import { BusyReporter } from '../../self-load/reporter.js';
import { NODE_ENV, type NodeBoot, type NodeRequest, type NodeReport } from './node-protocol.js';

const boot = readBootEnv<NodeBoot>(process.env, NODE_ENV);
const control = new NodeSubscription(boot.controlUrl, boot.node, boot.controlSecret, (m) => line(boot.node, 'sidecar', 'stderr', m));
const spans = new SpanBatcher(new OtlpHttpExporter(boot.controlUrl, boot.controlSecret), { flushMs: boot.flushMs });
const host: SidecarHost = {
  subscribe: (instance, onSnapshot) => control.joinSidecar(instance, onSnapshot),
  spans: (resource) => spans.sink(resource, false),
  everyQuarterSecond,
};

interface Hosted {
  pod: string;
  container: 'app' | 'sidecar';
  /** Which launch of the pod this is: a report names it, so a late one is not taken for the next. */
  launch: number;
  stop(): Promise<void>;
  kill(): void;
  subscription?: Subscription;
}

const hosted = new Map<string, Hosted>();
const key = (pod: string, container: string) => `${pod}/${container}`;

function line(pod: string, container: string, stream: 'stdout' | 'stderr', text: string): void {
  process.stdout.write(`${pod} ${container} ${stream} ${text}\n`);
}

/** While the pods serve requests (their access logs come), how busy this node is, said while busy. */
const load = new BusyReporter((busy) => report({ op: 'load', busy }));

/** Lines as one write: a sidecar's access log comes in batches. */
function lines(pod: string, container: string, text: string): void {
  load.active();
  const prefix = `${pod} ${container} stdout `;
  let out = '';
  for (const l of text.split('\n')) if (l !== '') out += `${prefix}${l}\n`;
  if (out) process.stdout.write(out);
}

function report(message: NodeReport): void {
  if (process.connected) process.send!(message);
}

function ended(h: Hosted, code: number | null, signal: string | null): void {
  if (hosted.get(key(h.pod, h.container)) !== h) return;
  hosted.delete(key(h.pod, h.container));
  report({ op: 'exit', pod: h.pod, container: h.container, launch: h.launch, code, signal });
}

async function start(pod: string, container: 'app' | 'sidecar', program: 'sidecar' | 'workload', env: Record<string, string>, launch: number): Promise<void> {
  if (program === 'sidecar') {
    const sidecarBoot = JSON.parse(env[SIDECAR_ENV]!) as SidecarBoot;
    const sidecar = new Sidecar(sidecarBoot, (text) => lines(pod, container, text), host);
    const h: Hosted = {
      pod, container, launch,
      stop: () => sidecar.stop(),
      kill: () => sidecar.crash(),
    };
    hosted.set(key(pod, container), h);
    await sidecar.start((message) => line(pod, container, 'stderr', `${sidecarBoot.instance}: ${message}`));
    return;
  }
  const workloadBoot = JSON.parse(env[WORKLOAD_ENV]!) as WorkloadBoot;
  const workload = workloadBoot.protocol === 'tcp' ? new TcpEcho(workloadBoot) : new Workload(workloadBoot);
  const h: Hosted = {
    pod, container, launch,
    stop: async () => {
      h.subscription?.stop();
      workload.close();
    },
    kill: () => {
      h.subscription?.stop();
      workload.close();
    },
  };
  hosted.set(key(pod, container), h);
  const port = await workload.listen();
  line(pod, container, 'stdout', `${workloadBoot.instance}: ${workloadBoot.service} ${workloadBoot.version} listening on ${workloadBoot.listen.host}:${port}`);
  if (workloadBoot.controlUrl) h.subscription = control.joinWorkload(workloadBoot.instance, (snapshot) => workload.update(snapshot));
}

async function handle(request: NodeRequest): Promise<void> {
  switch (request.op) {
    case 'start':
      for (const c of request.containers) {
        try {
          await start(request.pod, c.name, c.program, c.env, request.launch);
        } catch (error) {
          line(request.pod, c.name, 'stderr', `cannot start: ${(error as Error).message}`);
          const h = hosted.get(key(request.pod, c.name));
          h?.kill();
          if (h) ended(h, 1, null);
          else report({ op: 'exit', pod: request.pod, container: c.name, launch: request.launch, code: 1, signal: null });
        }
      }
      return;
    case 'stop': {
      const h = hosted.get(key(request.pod, request.container));
      if (!h) return;
      await h.stop().catch(() => {});
      ended(h, 0, null);
      return;
    }
    case 'kill': {
      const h = hosted.get(key(request.pod, request.container));
      if (!h) return;
      h.kill();
      ended(h, null, 'SIGKILL');
      return;
    }
  }
}

let closing = false;
async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  const force = setTimeout(() => process.exit(0), 3000);
  force.unref();
  await Promise.all([...hosted.values()].map((h) => h.stop().catch(() => {})));
  control.stop();
  await spans.stop();
  process.exit(0);
}

process.on('message', (message: NodeRequest) => void handle(message));
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
// When mesh-sim goes, its nodes go, flushing what they hold.
process.on('disconnect', () => void shutdown());
report({ op: 'ready' });
