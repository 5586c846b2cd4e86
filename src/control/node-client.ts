// One control-plane connection for every pod on a node process, as a node's kubelet
// has one connection to the API server, not one per pod. The node's long poll names the
// sidecars that hold the current version (acknowledging it for each, as their own polls
// would), the members that still need a snapshot, and the workloads it hosts; the reply
// carries the sidecar snapshot and each workload's behaviour. A member that joins gets
// its snapshot at once; a flush asked of the sidecars is acknowledged only once every
// one of them has sent its telemetry.

import http from 'node:http';
import { POLL_TIMEOUT_MS, type NodeSnapshot, type SidecarSnapshot, type WorkloadSnapshot } from './protocol.js';
import type { Subscription } from './client.js';
import { authorization } from './http.js';

type Kind = 'sidecar' | 'workload';

interface Member {
  kind: Kind;
  instance: string;
  onSnapshot: (snapshot: never) => void | Promise<void>;
  /** The version this member has applied; 0 until its first snapshot. */
  applied: number;
}

export class NodeSubscription {
  private readonly members = new Map<string, Member>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private version = 0;
  private current: http.ClientRequest | undefined;
  /** Bumped on every new poll: an answer to an abandoned poll is ignored. */
  private generation = 0;
  private failures = 0;
  private stopped = false;
  private delivering: Promise<void> | undefined;

  constructor(
    private readonly controlUrl: string,
    private readonly node: string,
    private readonly secret: string,
    private readonly onTrouble: (message: string) => void = () => {},
  ) {}

  joinSidecar(instance: string, onSnapshot: (snapshot: SidecarSnapshot) => void | Promise<void>): Subscription {
    return this.join(instance, 'sidecar', onSnapshot);
  }

  joinWorkload(instance: string, onSnapshot: (snapshot: WorkloadSnapshot) => void): Subscription {
    return this.join(instance, 'workload', onSnapshot);
  }

  private join(instance: string, kind: Kind, onSnapshot: Member['onSnapshot']): Subscription {
    // A pod's sidecar and its workload share the instance name: keyed by both.
    const id = `${kind}/${instance}`;
    const member: Member = { kind, instance, onSnapshot, applied: 0 };
    this.members.set(id, member);
    // Ask at once rather than wait out the poll in flight: the new member needs its snapshot.
    if (!this.delivering) this.poll();
    return {
      stop: () => {
        if (this.members.get(id) === member) this.members.delete(id);
      },
    };
  }

  private poll(): void {
    if (this.stopped || this.members.size === 0) return;
    const generation = ++this.generation;
    this.current?.destroy();
    const target = new URL(`/v1/node/${this.node}`, this.controlUrl);
    target.searchParams.set('version', String(this.version));
    const list = (pick: (m: Member) => boolean) => [...new Set([...this.members.values()].filter(pick).map((m) => m.instance))].join(',');
    target.searchParams.set('sidecars', list((m) => m.kind === 'sidecar' && m.applied === this.version && this.version > 0));
    target.searchParams.set('fresh', list((m) => m.applied !== this.version || this.version === 0));
    target.searchParams.set('workloads', list((m) => m.kind === 'workload'));
    const req = http.get(target, { agent: this.agent, timeout: POLL_TIMEOUT_MS + 10_000, headers: { authorization: authorization(this.secret) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (this.stopped || generation !== this.generation) return;
        if (res.statusCode === 200) {
          this.failures = 0;
          let snapshot: NodeSnapshot;
          try {
            snapshot = JSON.parse(Buffer.concat(chunks).toString('utf8')) as NodeSnapshot;
          } catch (error) {
            this.retry(`bad snapshot from the control plane: ${(error as Error).message}`);
            return;
          }
          this.delivering = this.deliver(snapshot).finally(() => {
            this.delivering = undefined;
            setImmediate(() => this.poll());
          });
        } else if (res.statusCode === 204) {
          this.failures = 0;
          setImmediate(() => this.poll());
        } else {
          this.retry(`control plane answered ${res.statusCode}: ${Buffer.concat(chunks).toString('utf8').slice(0, 200)}`);
        }
      });
      res.on('error', (e) => generation === this.generation && this.retry(e.message));
    });
    req.on('timeout', () => req.destroy(new Error('poll timed out')));
    req.on('error', (e) => generation === this.generation && this.retry(e.message));
    this.current = req;
  }

  /** Hands the snapshot to every member; the next poll (the acknowledgement) waits for all of them. */
  private async deliver(snapshot: NodeSnapshot): Promise<void> {
    this.version = snapshot.version;
    const pending: Array<Promise<void>> = [];
    for (const member of this.members.values()) {
      const own = member.kind === 'sidecar' ? snapshot.sidecar : snapshot.workloads[member.instance];
      if (!own) continue;
      try {
        const result = (member.onSnapshot as (s: unknown) => void | Promise<void>)(own);
        if (result instanceof Promise) pending.push(result.catch(() => {}));
      } catch (error) {
        this.onTrouble(`${member.instance}: ${(error as Error).message}`);
      }
      member.applied = snapshot.version;
    }
    await Promise.all(pending);
  }

  private retry(message: string): void {
    if (this.stopped) return;
    this.failures++;
    if (this.failures === 1 || this.failures % 20 === 0) this.onTrouble(`control plane unreachable (${message}); retrying`);
    setTimeout(() => this.poll(), Math.min(2000, 100 * 2 ** Math.min(this.failures, 5))).unref();
  }

  stop(): void {
    this.stopped = true;
    this.current?.destroy();
    this.agent.destroy();
  }
}
