// The control plane's state: the scenario's desired services and policies, the
// endpoints of ready instances, a version that moves on every change, and which
// version each sidecar has acknowledged (istiod's push status).

import { EventEmitter } from 'node:events';
import type { Behaviour, Scenario } from '../scenario/model.js';
import type { Endpoint, ServiceEntry, SidecarSnapshot, WorkloadSnapshot } from './protocol.js';

export interface InstanceIdentity {
  instance: string;
  service: string;
  version: string;
  /** The service account its pods run as (what its certificate may name). */
  serviceAccount?: string;
  /** Where callers reach its sidecar's inbound listener. */
  host: string;
  port: number;
}

interface Subscriber {
  acked: number;
  lastSeenMs: number;
}

export interface PushStatus {
  version: number;
  acked: number;
  total: number;
  /** Instances that have not acknowledged the current version. */
  behind: string[];
}

export const DEFAULT_PORT = 8080;

/** Each service's port in the mesh: what callers write in the authority. */
export function servicePorts(scenario: Pick<Scenario, 'services'>): Record<string, number> {
  return Object.fromEntries(scenario.services.map((s) => [s.name, s.port ?? DEFAULT_PORT]));
}

export class ControlPlane extends EventEmitter {
  private versionCounter = 1;
  private flushes = 0;
  /** Bumped by configuration changes only (not by flushes): what `config vN` names. */
  configVersion = 1;
  private seed: number;
  private scenario: Pick<Scenario, 'services' | 'config'>;
  private readonly instances = new Map<string, InstanceIdentity>();
  private readonly ready = new Set<string>();
  private readonly sidecars = new Map<string, Subscriber>();
  private sidecarSnapshotCache: SidecarSnapshot | undefined;

  constructor(scenario: Pick<Scenario, 'services' | 'config'>, seed: number) {
    super();
    this.setMaxListeners(0);
    this.scenario = scenario;
    this.seed = seed;
  }

  get version(): number {
    return this.versionCounter;
  }

  private bump(): void {
    this.versionCounter++;
    this.sidecarSnapshotCache = undefined;
    this.emit('change', this.versionCounter);
  }

  /** A new desired state from the timeline: policies and behaviour, pushed to everyone. */
  setScenario(scenario: Pick<Scenario, 'services' | 'config'>): void {
    this.scenario = scenario;
    this.configVersion++;
    this.bump();
  }

  /**
   * Asks every sidecar to send its spans and log lines before acknowledging: once the
   * returned version is acknowledged, the collector holds everything finished before now.
   */
  flush(): number {
    this.flushes++;
    this.bump();
    return this.versionCounter;
  }

  register(identity: InstanceIdentity): void {
    this.instances.set(identity.instance, identity);
  }

  /** An instance's address changed (a restart on the process runtime gets new ports). */
  relocate(instance: string, host: string, port: number): void {
    const identity = this.instances.get(instance);
    if (!identity) return;
    this.instances.set(instance, { ...identity, host, port });
    if (this.ready.has(instance)) this.bump();
  }

  /** Puts an instance in (ready) or out of its service's endpoint list. */
  setReady(instance: string, ready: boolean): void {
    if (ready === this.ready.has(instance)) return;
    if (ready) this.ready.add(instance);
    else this.ready.delete(instance);
    this.bump();
  }

  isReady(instance: string): boolean {
    return this.ready.has(instance);
  }

  /** A sidecar polled holding `version`: it acknowledges it. */
  noteSidecarPoll(instance: string, version: number, nowMs: number): void {
    const previous = this.sidecars.get(instance);
    this.sidecars.set(instance, { acked: version, lastSeenMs: nowMs });
    if (!previous || previous.acked !== version) this.emit('ack', instance, version);
  }

  /** An instance gone for good (a live edit dropped it): out of the endpoints, forgotten. */
  unregister(instance: string): void {
    this.setReady(instance, false);
    this.instances.delete(instance);
    this.sidecars.delete(instance);
  }

  forgetSidecar(instance: string): void {
    this.sidecars.delete(instance);
  }

  ackedVersion(instance: string): number | undefined {
    return this.sidecars.get(instance)?.acked;
  }

  /** How far the current version has spread among the given sidecars. */
  pushStatus(instances: Iterable<string>): PushStatus {
    const behind: string[] = [];
    let total = 0;
    for (const instance of instances) {
      total++;
      if (this.sidecars.get(instance)?.acked !== this.versionCounter) behind.push(instance);
    }
    return { version: this.versionCounter, acked: total - behind.length, total, behind };
  }

  /** Resolves when every given sidecar has acknowledged `version` or later. */
  async awaitAcked(instances: string[], version: number, timeoutMs: number): Promise<PushStatus> {
    const done = () => instances.every((i) => (this.sidecars.get(i)?.acked ?? 0) >= version);
    if (done()) return this.pushStatus(instances);
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.off('ack', check);
        resolve(this.pushStatus(instances));
      };
      const check = () => {
        if (done()) finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.on('ack', check);
    });
  }

  servicePort(service: string): number {
    return this.scenario.services.find((s) => s.name === service)?.port ?? DEFAULT_PORT;
  }

  sidecarSnapshot(): SidecarSnapshot {
    if (this.sidecarSnapshotCache) return this.sidecarSnapshotCache;
    const services: Record<string, ServiceEntry> = {};
    const meshed = new Map<string, boolean>();
    for (const spec of this.scenario.services) {
      services[spec.name] = { name: spec.name, port: spec.port ?? DEFAULT_PORT, serviceAccount: spec.serviceAccount, endpoints: [] };
      meshed.set(spec.name, spec.sidecar);
    }
    for (const instance of this.ready) {
      const id = this.instances.get(instance);
      const entry = id && services[id.service];
      if (!id || !entry) continue;
      const endpoint: Endpoint = { instance, version: id.version, host: id.host, port: id.port, sidecar: meshed.get(id.service) ?? true };
      entry.endpoints.push(endpoint);
    }
    for (const entry of Object.values(services)) entry.endpoints.sort((a, b) => a.instance.localeCompare(b.instance));
    this.sidecarSnapshotCache = { version: this.versionCounter, flush: this.flushes, seed: this.seed, services, config: this.scenario.config };
    return this.sidecarSnapshotCache;
  }

  workloadSnapshot(service: string, version: string): WorkloadSnapshot | undefined {
    const spec = this.scenario.services.find((s) => s.name === service)?.versions.find((v) => v.name === version);
    if (!spec) return undefined;
    const behaviour: Behaviour = {
      latency: spec.latency,
      errorRate: spec.errorRate,
      errorStatus: spec.errorStatus,
      responseSize: spec.responseSize,
      calls: spec.calls,
      image: spec.image,
      command: spec.command,
    };
    return { version: this.versionCounter, seed: this.seed, behaviour, ports: servicePorts(this.scenario) };
  }
}
