// A sidecar: inbound, outbound and admin listeners, fed by the control plane, reporting
// to the collector, logging to stdout. The same program serves as the ingress gateway
// (outbound only, with no app behind it).

import http from 'node:http';
import net from 'node:net';
import type { Subscription } from '../control/client.js';
import type { SidecarSnapshot } from '../control/protocol.js';
import type { OutlierEvent } from '../policy/outlier.js';
import type { OutlierEventEntry } from '../telemetry/access-log.js';
import type { SidecarBoot } from './boot.js';
import type { Cluster } from './cluster.js';
import type { SidecarContext } from './context.js';
import { selfPeer } from './identity.js';
import { Inbound } from './inbound.js';
import { Outbound } from './outbound.js';
import { ClusterSet } from './clusters.js';
import { handleAdmin } from './admin.js';
import { IstioMetrics, LineWriter, nowMs } from './telemetry.js';
import { standaloneHost, type SidecarHost } from './host.js';
import { SIDECAR_SDK } from '../telemetry/span.js';

const SERVER_KEEPALIVE_MS = 65_000;

function listen(server: http.Server, port: number, host: string): Promise<void> {
  server.keepAliveTimeout = SERVER_KEEPALIVE_MS;
  server.headersTimeout = SERVER_KEEPALIVE_MS + 1000;
  server.requestTimeout = 0;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Resolves once something accepts TCP connections at host:port. */
export function waitForPort(host: string, port: number, signal: { stopped: boolean }, onWait: () => void): Promise<void> {
  return new Promise((resolve) => {
    let tries = 0;
    const attempt = () => {
      if (signal.stopped) return;
      const socket = net.connect(port, host);
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (++tries === 100) onWait();
        setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export class Sidecar {
  private snapshot: SidecarSnapshot | undefined;
  private subscription: Subscription | undefined;
  private readonly servers: http.Server[] = [];
  private readonly ctx: SidecarContext;
  private readonly clusters: ClusterSet;
  private readonly outbound: Outbound;
  private readonly inbound: Inbound | undefined;
  private readonly stopSweeping: () => void;
  private readonly waiting = { stopped: false };

  constructor(readonly boot: SidecarBoot, writeOut: (text: string) => void, private readonly host: SidecarHost = standaloneHost(boot)) {
    const self = selfPeer(boot);
    this.ctx = {
      boot,
      self,
      snapshot: () => this.snapshot,
      metrics: new IstioMetrics(),
      // Constants of this sidecar go in the resource, once per export, not on every span.
      spans: host.spans({
        'service.name': self.canonicalService,
        'service.namespace': self.namespace,
        'service.version': self.canonicalRevision,
        'service.instance.id': boot.instance,
        'istio.canonical_service': self.canonicalService,
        'istio.canonical_revision': self.canonicalRevision,
        'telemetry.sdk.name': SIDECAR_SDK,
      }),
      log: new LineWriter(writeOut),
    };
    this.clusters = new ClusterSet(() => this.snapshot, (cluster, event) => this.onOutlier(cluster, event));
    this.outbound = new Outbound(this.ctx, this.clusters);
    this.inbound = boot.mode === 'sidecar' ? new Inbound(this.ctx) : undefined;
    this.stopSweeping = host.everyQuarterSecond(() => this.clusters.sweep(nowMs()));
  }

  async start(onWaitForApp: (message: string) => void): Promise<void> {
    const { listen: at, mode, app } = this.boot;
    const admin = http.createServer((req, res) => handleAdmin(this.ctx, this.clusters, () => this.snapshot !== undefined, req, res));
    const outbound = http.createServer((req, res) => void this.outbound.handle(req, res));
    this.servers.push(admin, outbound);
    await listen(admin, at.admin, at.host);
    await listen(outbound, at.outbound, at.outboundHost ?? at.host);
    if (mode === 'sidecar' && this.inbound && app) {
      const inbound = http.createServer((req, res) => this.inbound!.handle(req, res));
      this.servers.push(inbound);
      await listen(inbound, at.inbound, at.host);
      // Like a readiness gate: the control plane hears from us once the app answers.
      await waitForPort(app.host, app.port, this.waiting, () => onWaitForApp(`waiting for the app to listen on ${app.host}:${app.port}`));
    }
    if (this.waiting.stopped) return;
    this.subscription = this.host.subscribe(
      this.boot.instance,
      (snapshot) => {
        const flush = this.snapshot !== undefined && snapshot.flush !== this.snapshot.flush;
        this.snapshot = snapshot;
        this.clusters.refresh();
        // Asked to flush: the acknowledgement (the next poll) waits until the collector has it all.
        if (flush) {
          this.ctx.log.flush();
          return this.ctx.spans.flush();
        }
        return undefined;
      },
      (message) => onWaitForApp(message),
    );
  }

  private onOutlier(cluster: Cluster, event: OutlierEvent): void {
    const { metrics, log, boot } = this.ctx;
    const labels = { cluster_name: cluster.name };
    if (event.type === 'eject') {
      metrics.ejectionsEnforced.inc(labels);
    }
    metrics.ejectionsActive.set(labels, cluster.ejected);
    const entry: OutlierEventEntry = {
      timestamp: new Date().toISOString(),
      type: event.type === 'eject' ? event.reason : event.type === 'not-ejected' ? event.ejection : 'CONSECUTIVE_5XX',
      action: event.type === 'eject' ? 'EJECT' : event.type === 'uneject' ? 'UNEJECT' : 'NOT_EJECTED',
      cluster_name: cluster.name,
      upstream_url: event.host,
      num_ejections: event.type === 'eject' ? event.ejections : 0,
      enforced: event.type === 'eject',
      eject_duration_ms: event.type === 'eject' ? event.forMs : null,
      reason: event.type === 'not-ejected' ? event.reason : null,
      instance: boot.instance,
    };
    log.line(entry);
  }

  /**
   * Gone at once, as a crashed process is: listeners and every connection closed (its
   * callers see resets), nothing flushed, no goodbye to the control plane.
   */
  crash(): void {
    this.waiting.stopped = true;
    this.stopSweeping();
    this.subscription?.stop();
    for (const server of this.servers) {
      server.close();
      server.closeAllConnections();
    }
    this.outbound.close();
    this.inbound?.close();
  }

  /** Stops listening, then sends what telemetry is left: spans to the collector, lines to stdout. */
  async stop(): Promise<void> {
    this.waiting.stopped = true;
    this.stopSweeping();
    this.subscription?.stop();
    for (const server of this.servers) {
      server.close();
      server.closeIdleConnections();
    }
    this.ctx.log.stop();
    await this.ctx.spans.stop();
    for (const server of this.servers) server.closeAllConnections();
    this.outbound.close();
    this.inbound?.close();
  }
}
