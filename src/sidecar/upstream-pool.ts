// The connections a cluster keeps to its hosts, as Envoy's HTTP/1.1 connection pool
// (ConnPoolImplBase) keeps them. A request that finds no idle connection waits as a
// pending request while a new connection opens for it; whichever connection is ready
// first serves it: the new one once connected (and through its TLS handshake), or one
// freed meanwhile by a finished request. Node's own agent instead binds each request to
// the connection it opened, so a burst waits for every handshake even as older
// connections fall idle. A connection that fails to connect, or does not connect within
// the cluster's connect timeout, fails every pending request of its host, as Envoy
// purges them. Idle connections close after idleTimeout; a connection that has served
// maxRequestsPerConnection requests closes.
//
// Built on Node's agent (http or https), whose bookkeeping of live and idle sockets it
// keeps: it adds the pending queue, readiness and the limits.

import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';

/** Istio's connectionPool settings the pool enforces per connection. */
export interface ConnectionLimits {
  /** 0: no limit. */
  maxRequestsPerConnection: number;
  idleTimeoutMs: number | undefined;
  connectTimeoutMs: number | undefined;
}

/** Why a pending request got no connection: Envoy's connection failure (flag UF), whatever the socket said. */
export class ConnectFailure extends Error {
  readonly code: string | undefined;
  constructor(message: string, options: { cause?: Error; code?: string } = {}) {
    super(message, options.cause ? { cause: options.cause } : undefined);
    this.name = 'ConnectFailure';
    this.code = options.code ?? (options.cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

/**
 * Destroys `socket` with ETIMEDOUT unless `ready` comes within `ms`: the cluster's
 * connect_timeout, for the HTTP pool and tcp_proxy alike.
 */
export function connectDeadline(socket: Socket, ready: 'connect' | 'secureConnect', ms: number): void {
  const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`no connection within the connect timeout (${ms} ms)`), { code: 'ETIMEDOUT' })), ms);
  socket.once(ready, () => clearTimeout(timer));
  socket.once('close', () => clearTimeout(timer));
}

type AgentOptions = http.AgentOptions & { host?: string; port?: number | string; localAddress?: string; _agentKey?: string };
type CreateSocket = (req: http.ClientRequest, options: AgentOptions, cb: (error: Error | null, socket?: Socket) => void) => void;

/** What Node's agent keeps and does, beyond its public types. */
interface NodeAgent {
  options: AgentOptions;
  sockets: Record<string, Socket[] | undefined>;
  freeSockets: Record<string, Socket[] | undefined>;
  requests: Record<string, http.ClientRequest[] | undefined>;
  maxFreeSockets: number;
  createSocket: CreateSocket;
  addRequest(req: http.ClientRequest, options: AgentOptions): void;
  keepSocketAlive(socket: Socket): boolean;
  reuseSocket(socket: Socket, req: http.ClientRequest): void;
}

const SERVED = Symbol('requestsServed');
const ON_IDLE_ERROR = Symbol('onIdleError');
type PooledSocket = Socket & { [SERVED]?: number; [ON_IDLE_ERROR]?: () => void };
type Reusable = http.ClientRequest & { reusedSocket: boolean };

/** One host's requests waiting for a connection, and the connections opening for them. */
interface HostQueue {
  pending: http.ClientRequest[];
  connecting: Set<Socket>;
  options: AgentOptions;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AgentClass = new (...args: any[]) => http.Agent;

function pooled<Base extends AgentClass>(Agent: Base, secure: boolean) {
  return class UpstreamPool extends Agent implements ConnectionLimits {
    maxRequestsPerConnection = 0;
    idleTimeoutMs: number | undefined = undefined;
    connectTimeoutMs: number | undefined = undefined;
    private readonly hosts = new Map<string, HostQueue>();

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    constructor(...args: any[]) {
      super(...args);
      // Before Node's own listener: a freed connection goes to the first pending request.
      this.prependListener('free', (socket: PooledSocket, options: AgentOptions) => this.onFree(socket, options));
    }

    /**
     * One agent serves one cluster with one set of TLS options, so host, port and source
     * address name a host's pool (Node's https agent would rebuild a key of every TLS
     * option, PEM text included, on each request).
     */
    override getName(options: AgentOptions = {}): string {
      return `${options.host ?? 'localhost'}:${options.port ?? ''}:${options.localAddress ?? ''}`;
    }

    addRequest(req: http.ClientRequest, options: AgentOptions): void {
      const node = this as unknown as NodeAgent;
      const name = this.getName({ host: options.host, port: options.port, localAddress: node.options.localAddress ?? options.localAddress });
      const idle = node.freeSockets[name];
      if (idle !== undefined && idle.length > 0) {
        // Node's agent takes the idle connection most recently used (lifo).
        (Agent.prototype as unknown as NodeAgent).addRequest.call(this, req, options);
        return;
      }
      const host = this.host(name, options);
      host.pending.push(req);
      this.grow(name, host);
    }

    override keepSocketAlive(socket: Socket): boolean {
      const kept = (Agent.prototype as unknown as NodeAgent).keepSocketAlive.call(this, socket);
      if (kept && this.idleTimeoutMs !== undefined) socket.setTimeout(this.idleTimeoutMs);
      return kept;
    }

    override reuseSocket(socket: PooledSocket, req: http.ClientRequest): void {
      const onIdleError = socket[ON_IDLE_ERROR];
      if (onIdleError) socket.removeListener('error', onIdleError);
      socket[ON_IDLE_ERROR] = undefined;
      super.reuseSocket(socket, req);
    }

    /** Requests waiting, over all hosts (Envoy's upstream_rq_pending_active). */
    get pendingRequests(): number {
      let n = 0;
      for (const host of this.hosts.values()) n += host.pending.length;
      return n;
    }

    private host(name: string, options: AgentOptions): HostQueue {
      let host = this.hosts.get(name);
      if (!host) {
        host = { pending: [], connecting: new Set(), options };
        this.hosts.set(name, host);
      }
      return host;
    }

    /** Envoy's tryCreateNewConnections: one connection opening per pending request. */
    private grow(name: string, host: HostQueue): void {
      while (host.connecting.size < host.pending.length) this.open(name, host);
    }

    private open(name: string, host: HostQueue): void {
      const node = this as unknown as NodeAgent;
      node.createSocket(host.pending[0]!, host.options, (error, created) => {
        if (error || !created) {
          this.purge(name, host, new ConnectFailure('no connection was made', { cause: error ?? undefined }));
          return;
        }
        const socket = created;
        host.connecting.add(socket);
        let settled = false;
        const settle = () => {
          settled = true;
          host.connecting.delete(socket);
          socket.removeListener('error', onError);
        };
        const failed = (failure: ConnectFailure) => {
          if (settled) return;
          settle();
          socket.destroy();
          this.purge(name, host, failure);
        };
        const onError = (cause: Error) => failed(new ConnectFailure(`connection failure: ${cause.message}`, { cause }));
        socket.once('error', onError);
        // A connection that closes, at any time, may leave pending requests short of one.
        socket.once('close', () => {
          if (!settled) failed(new ConnectFailure('the connection closed before it was ready', { code: 'ECONNRESET' }));
          else {
            const current = this.hosts.get(name);
            if (current && current.pending.length > 0) this.grow(name, current);
          }
        });
        const ready = () => {
          if (settled) return;
          settle();
          this.onReady(name, host, socket);
        };
        const readyOn = secure ? 'secureConnect' : socket.connecting ? 'connect' : undefined;
        if (!readyOn) {
          process.nextTick(ready);
          return;
        }
        socket.once(readyOn, ready);
        // Not ready in time: the socket is destroyed with ETIMEDOUT, and its error fails the host's pending requests.
        if (this.connectTimeoutMs !== undefined) connectDeadline(socket, readyOn, this.connectTimeoutMs);
      });
    }

    /** A new connection is up: the first pending request takes it, or it waits idle. */
    private onReady(name: string, host: HostQueue, socket: PooledSocket): void {
      const req = this.nextPending(host);
      this.prune(name, host);
      if (req) {
        req.onSocket(socket);
        return;
      }
      const node = this as unknown as NodeAgent;
      const live = node.sockets[name];
      const at = live?.indexOf(socket) ?? -1;
      if (at !== -1) live!.splice(at, 1);
      if (live?.length === 0) delete node.sockets[name];
      const idle = (node.freeSockets[name] ??= []);
      // Kept as Node keeps a freed socket (keep-alive probes, unref, the idle timeout).
      if (idle.length >= node.maxFreeSockets || !this.keepSocketAlive(socket)) {
        socket.destroy();
        return;
      }
      const onIdleError = () => socket.destroy();
      socket[ON_IDLE_ERROR] = onIdleError;
      socket.once('error', onIdleError);
      idle.push(socket);
    }

    /** A request finished on `socket`: close it at its limit, or hand it to a pending request. */
    private onFree(socket: PooledSocket, options: AgentOptions): void {
      socket[SERVED] = (socket[SERVED] ?? 0) + 1;
      if (this.maxRequestsPerConnection > 0 && socket[SERVED] >= this.maxRequestsPerConnection) {
        // Node's listener, next, sees it unwritable and lets it go.
        socket.destroy();
        return;
      }
      if (!socket.writable) return;
      const name = options._agentKey ?? this.getName(options);
      const host = this.hosts.get(name);
      const req = host && this.nextPending(host);
      if (host) this.prune(name, host);
      if (!req) return;
      (req as Reusable).reusedSocket = true;
      // Node's listener hands the socket to the request it finds queued.
      const node = this as unknown as NodeAgent;
      (node.requests[name] ??= []).push(req);
    }

    private nextPending(host: HostQueue): http.ClientRequest | undefined {
      let req = host.pending.shift();
      // A request that gave up while it waited (its timeout fired) takes nothing; it ends
      // as Node ends a destroyed request that was queued for a socket.
      while (req?.destroyed) {
        (req.onSocket as (socket: Socket | undefined) => void).call(req, undefined);
        req = host.pending.shift();
      }
      return req;
    }

    /** Envoy purges a host's pending requests when a connection to it fails. */
    private purge(name: string, host: HostQueue, cause: ConnectFailure): void {
      const waiting = host.pending.splice(0);
      this.prune(name, host);
      for (const req of waiting) if (!req.destroyed) (req.onSocket as (socket: Socket | undefined, error: Error) => void).call(req, undefined, cause);
    }

    /**
     * A host with nothing waiting and nothing opening leaves the map, so it holds the
     * hosts in use, not every endpoint ever called (pods come and go with restarts).
     * A connection's callbacks that hold a pruned entry find it empty; the map has the live one.
     */
    private prune(name: string, host: HostQueue): void {
      if (host.pending.length === 0 && host.connecting.size === 0 && this.hosts.get(name) === host) this.hosts.delete(name);
    }

    /** Hosts with requests waiting or connections opening (for tests). */
    get hostsWaiting(): number {
      return this.hosts.size;
    }
  };
}

export const HttpPool = pooled(http.Agent, false);
export const HttpsPool = pooled(https.Agent, true);
export type UpstreamPool = InstanceType<typeof HttpPool>;
