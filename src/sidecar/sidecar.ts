// A sidecar: inbound, outbound and admin listeners, fed by the control plane, reporting
// to the collector, logging to stdout, with the pod's certificate from the control
// plane for mutual TLS. The same program serves as the ingress gateway (outbound only,
// with no app behind it), and in a pod outside the mesh as a plain pass-through.

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
import { SidecarTls } from './mtls.js';
import { inboundListener, type InboundCounters } from './inbound-listener.js';
import { Passthrough } from './passthrough.js';
import { TcpProxy } from './tcp-proxy.js';
import { listenOn } from '../listen.js';
import { offerLoopback } from '../loopback/pod-loopback.js';
import { TcpInbound } from './tcp-inbound.js';
import { mtlsModeFor } from '../policy/security.js';
import { podLabelsOf } from '../identity/labels.js';

const SERVER_KEEPALIVE_MS = 65_000;

function configure(server: http.Server): void {
  server.keepAliveTimeout = SERVER_KEEPALIVE_MS;
  server.headersTimeout = SERVER_KEEPALIVE_MS + 1000;
  server.requestTimeout = 0;
}

/** An HTTP listener, configured as every sidecar listener is; resolves with the port bound. */
function listen(server: http.Server, port: number, host: string): Promise<number> {
  configure(server);
  return listenOn(server, port, host);
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
  private readonly servers: Array<http.Server | net.Server> = [];
  private readonly passthrough: Passthrough | undefined;
  /** Connections the inbound listener turned away: plaintext under STRICT, failed handshakes. */
  readonly inboundCounters: InboundCounters = { plaintextRejected: 0, handshakeFailed: 0 };
  private readonly ctx: SidecarContext;
  private readonly clusters: ClusterSet;
  private readonly outbound: Outbound;
  private readonly inbound: Inbound | undefined;
  private readonly tcpProxy: TcpProxy;
  private readonly tcpInbound: TcpInbound | undefined;
  private readonly stopSweeping: () => void;
  private readonly waiting = { stopped: false };
  private reconcileInbound: () => void = () => {};
  private closeInbound: () => void = () => {};

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
      tls: undefined,
    };
    this.clusters = new ClusterSet(() => this.snapshot, (cluster, event) => this.onOutlier(cluster, event), () => this.ctx.tls);
    this.outbound = new Outbound(this.ctx, this.clusters);
    this.inbound = boot.mode === 'sidecar' ? new Inbound(this.ctx) : undefined;
    this.tcpProxy = new TcpProxy(this.ctx, this.clusters);
    this.tcpInbound = boot.mode === 'sidecar' && boot.protocol === 'tcp' ? new TcpInbound(this.ctx) : undefined;
    this.passthrough = boot.mode === 'none' ? new Passthrough(() => this.snapshot, boot.app) : undefined;
    this.stopSweeping = host.everyQuarterSecond(() => this.clusters.sweep(nowMs()));
  }

  async start(onWaitForApp: (message: string) => void): Promise<void> {
    const { listen: at, mode, app } = this.boot;
    // Like istio-agent: the pod's certificate first; without it, the proxy cannot serve mTLS.
    if (mode !== 'none') this.ctx.tls = await SidecarTls.obtain(this.boot);
    if (this.waiting.stopped) return;
    const passthrough = this.passthrough;
    const admin = http.createServer((req, res) => handleAdmin(this.ctx, this.clusters, () => this.snapshot !== undefined, req, res));
    const outbound = http.createServer(passthrough
      ? (req, res) => passthrough.outbound(req, res)
      : (req, res) => void this.outbound.handle(req, res));
    // A CONNECT names a TCP destination: Envoy's tcp_proxy. Nothing in a pod outside the mesh makes one.
    outbound.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => (passthrough ? socket.destroy() : this.tcpProxy.connect(req, socket, head)));
    this.servers.push(admin, outbound);
    await listen(admin, at.admin, at.host);
    const outboundHost = at.outboundHost ?? at.host;
    // The app reaches it over the pod's loopback, in memory when they share a node.
    offerLoopback(outbound, outboundHost, await listen(outbound, at.outbound, outboundHost));
    if (mode !== 'gateway' && app) {
      const inbound = http.createServer(passthrough
        ? (req, res) => passthrough.inbound(req, res)
        : (req, res) => this.inbound!.handle(req, res));
      configure(inbound);
      const labels = podLabelsOf(this.boot.service, this.boot.version);
      const tcp = !passthrough && this.tcpInbound;
      const listener = inboundListener(tcp ? (socket) => tcp.accept(socket) : (socket) => inbound.emit('connection', socket), {
        // A pod outside the mesh has no TLS to offer; a sidecar follows its PeerAuthentication.
        mode: () => (passthrough ? 'DISABLE' : mtlsModeFor(this.snapshot?.config.peerAuthentications ?? [], { namespace: this.boot.namespace, labels }, this.boot.servicePort)),
        context: () => this.ctx.tls?.serverContext(),
      }, this.inboundCounters);
      this.reconcileInbound = listener.reconcile;
      this.closeInbound = listener.closeAll;
      this.servers.push(inbound, listener.server);
      await listenOn(listener.server, at.inbound, at.host);
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
        this.reconcileInbound();
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
    this.stopListening('all');
    this.release();
  }

  /** Stops listening, then sends what telemetry is left: spans to the collector, lines to stdout. */
  async stop(): Promise<void> {
    this.stopListening('idle');
    this.ctx.log.stop();
    await this.ctx.spans.stop();
    this.release();
  }

  /** No new work: no timers, no config, no new connections; `connections` says which of the open ones close now. */
  private stopListening(connections: 'all' | 'idle'): void {
    this.waiting.stopped = true;
    this.stopSweeping();
    this.subscription?.stop();
    for (const server of this.servers) {
      server.close();
      if (!(server instanceof http.Server)) continue;
      if (connections === 'all') server.closeAllConnections();
      else server.closeIdleConnections();
    }
  }

  /** Every connection closed, and what the sidecar holds let go. */
  private release(): void {
    for (const server of this.servers) if (server instanceof http.Server) server.closeAllConnections();
    this.closeInbound();
    this.outbound.close();
    this.inbound?.close();
    this.tcpProxy.close();
    this.tcpInbound?.close();
    this.passthrough?.close();
    this.ctx.tls?.stop();
  }
}
