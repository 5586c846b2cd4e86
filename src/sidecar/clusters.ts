// The clusters a sidecar sends to, as Envoy's cluster manager holds them: one per host
// and one per subset a DestinationRule defines, made on first use, each given its
// endpoints (the pods its subset's labels select) and its traffic policy on every push.

import { clusterPolicy, destinationFor, labelsSelect } from '../policy/config.js';
import type { OutlierEvent } from '../policy/outlier.js';
import type { Endpoint, SidecarSnapshot } from '../control/protocol.js';
import { Cluster, type MeshSecurity } from './cluster.js';
import type { SidecarTls } from './mtls.js';
import { nowMs } from './telemetry.js';

export type ClusterLookup = { cluster: Cluster } | { missing: 'service' | 'subset' };

export class ClusterSet {
  private readonly clusters = new Map<string, Cluster>();
  private readonly security: MeshSecurity;

  constructor(
    private readonly snapshot: () => SidecarSnapshot | undefined,
    private readonly onOutlier: (cluster: Cluster, event: OutlierEvent) => void,
    tls: () => SidecarTls | undefined = () => undefined,
  ) {
    this.security = { tls, config: () => this.snapshot()?.config };
  }

  /** The cluster for a host (and subset); `missing` says which does not exist. */
  get(service: string, subsetName: string | undefined): ClusterLookup {
    const key = `${service}|${subsetName ?? ''}`;
    const existing = this.clusters.get(key);
    if (existing) return { cluster: existing };
    const snap = this.snapshot();
    const entry = snap?.services[service];
    if (!snap || !entry) return { missing: 'service' };
    const destination = destinationFor(snap.config, service);
    const subset = subsetName === undefined ? undefined : destination.subsets[subsetName];
    if (subsetName !== undefined && !subset) return { missing: 'subset' };
    const policy = clusterPolicy(snap.config, service, subsetName);
    const cluster = new Cluster(service, subset, entry.port, policy, this.onOutlier, this.security, entry.serviceAccount);
    cluster.update(this.endpointsOf(entry.endpoints, service, subset?.labels), policy, nowMs());
    this.clusters.set(key, cluster);
    return { cluster };
  }

  private endpointsOf(endpoints: Endpoint[], service: string, labels: Record<string, string> | undefined): Endpoint[] {
    return labels === undefined ? endpoints : endpoints.filter((e) => labelsSelect(labels, service, e.version));
  }

  /** A new snapshot: every cluster takes its new endpoints and policy; a cluster whose subset is gone goes. */
  refresh(): void {
    const snap = this.snapshot();
    if (!snap) return;
    for (const [key, cluster] of this.clusters) {
      const entry = snap.services[cluster.service];
      const subsetName = cluster.subset?.name;
      const subset = subsetName === undefined ? undefined : destinationFor(snap.config, cluster.service).subsets[subsetName];
      if (subsetName !== undefined && !subset) {
        cluster.close();
        this.clusters.delete(key);
        continue;
      }
      cluster.update(this.endpointsOf(entry?.endpoints ?? [], cluster.service, subset?.labels), clusterPolicy(snap.config, cluster.service, subsetName), nowMs());
    }
  }

  sweep(now: number): void {
    for (const cluster of this.clusters.values()) cluster.sweep(now);
  }

  all(): Cluster[] {
    return [...this.clusters.values()];
  }

  close(): void {
    for (const cluster of this.clusters.values()) cluster.close();
  }
}
