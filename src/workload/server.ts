// The sample service: per request it waits its own latency, fails by its errorRate,
// or makes its calls (in order, parallel groups at once) through its sidecar's
// outbound listener, copying the request's headers (trace context, and ones such as
// Bookinfo's end-user) onto each call, and answers with a body of responseSize. Like a
// real app it may time out and retry a call on its own, and degrade instead of failing
// (a `fallback` status: Bookinfo's page without reviews), apart from the mesh.

import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { WorkloadSnapshot } from '../control/protocol.js';
import { DEGRADED_HEADER, HEADER } from '../control/protocol.js';
import { attemptKey, planRequest, type PlannedCall, type PlannedStep } from './plan.js';
import type { WorkloadBoot } from './boot.js';
import { listenOn } from '../listen.js';
import { WorkTimer } from './work-timer.js';
import { loopbackAgent, offerLoopback } from '../loopback/pod-loopback.js';

/** Headers that belong to one hop and are not copied onto calls. */
const HOP_HEADERS = new Set([
  'host', 'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'content-length', 'content-type', 'expect', HEADER.attempt, HEADER.requestKey, HEADER.peer, HEADER.upstreamServiceTime,
]);

/** A call's own safety net when the app sets no timeout: this only stops leaks. */
const CALL_SAFETY_TIMEOUT_MS = 120_000;

/** What became of one call, after the app's own retries. */
type CallResult = { ok: true } | { ok: false; why: string };

const bodies = new Map<string, Buffer>();

function body(identity: string, size: number): Buffer {
  const cacheKey = `${identity}|${size}`;
  let buf = bodies.get(cacheKey);
  if (!buf) {
    buf = Buffer.alloc(size, ' ');
    Buffer.from(identity).copy(buf, 0, 0, Math.min(size, identity.length));
    if (size > identity.length) buf[size - 1] = 0x0a;
    bodies.set(cacheKey, buf);
  }
  return buf;
}

export class Workload {
  private snapshot: WorkloadSnapshot;
  // To its own sidecar over the pod's loopback: in memory when both share a node.
  private readonly agent = loopbackAgent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo' });
  private direct = 0;
  private readonly timer = new WorkTimer();
  readonly server: http.Server;

  constructor(private readonly boot: WorkloadBoot) {
    this.snapshot = boot.initial;
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
  }

  update(snapshot: WorkloadSnapshot): void {
    this.snapshot = snapshot;
  }

  async listen(): Promise<number> {
    const port = await listenOn(this.server, this.boot.listen.port, this.boot.listen.host);
    offerLoopback(this.server, this.boot.listen.host, port);
    return port;
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
    this.agent.destroy();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrived = this.timer.now();
    req.resume();
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    const { behaviour, seed } = this.snapshot;
    const key = headerValue(req.headers, HEADER.requestKey) ?? `direct.${this.direct++}`;
    const attempt = Number(headerValue(req.headers, HEADER.attempt) ?? '1') || 1;
    const plan = planRequest(behaviour, seed, attemptKey(key, attempt));
    if (plan.latencyMs > 0) await this.timer.until(arrived + plan.latencyMs);
    if (plan.fails) {
      this.answer(res, behaviour.errorStatus, `{"error":"${this.boot.service} ${this.boot.version} failed this request by itself (errorRate ${behaviour.errorRate})"}`);
      return;
    }
    const outcome = await this.runSteps(plan.steps, req.headers, res);
    if (outcome.failure) this.answer(res, 502, `{"error":"${outcome.failure}"}`);
    else if (outcome.degraded) this.answer(res, outcome.degraded.status, undefined, { [DEGRADED_HEADER]: outcome.degraded.service });
    else this.answer(res, 200, undefined);
  }

  private answer(res: ServerResponse, status: number, text: string | undefined, extra: Record<string, string> = {}): void {
    if (res.destroyed) return;
    const payload = text !== undefined
      ? Buffer.from(text + '\n')
      : body(`{"service":"${this.boot.service}","version":"${this.boot.version}","instance":"${this.boot.instance}"}`, this.snapshot.behaviour.responseSize);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': payload.length, ...extra });
    res.end(payload);
  }

  /**
   * Runs the calls. A failed call fails the request (502), unless it is optional
   * (ignored) or has a fallback: then the rest still runs, and the answer is degraded.
   */
  private async runSteps(steps: PlannedStep[], headers: IncomingHttpHeaders, res: ServerResponse): Promise<{ failure?: string; degraded?: { status: number; service: string } }> {
    let degraded: { status: number; service: string } | undefined;
    for (const step of steps) {
      if (res.destroyed) return { failure: 'the caller went away' };
      const calls = step.kind === 'call' ? [step.call] : step.calls;
      const results = await Promise.all(calls.map((c) => this.callWithRetries(c, headers)));
      for (let i = 0; i < calls.length; i++) {
        const result = results[i]!;
        const { call } = calls[i]!;
        if (result.ok || call.optional) continue;
        if (call.fallback === undefined) return { failure: result.why };
        degraded ??= { status: call.fallback, service: call.service };
      }
    }
    return degraded ? { degraded } : {};
  }

  /** A call with the app's own retries: each try is a new request to the mesh, decided afresh. */
  private async callWithRetries(planned: PlannedCall, incoming: IncomingHttpHeaders): Promise<CallResult> {
    let result: CallResult = { ok: false, why: 'not tried' };
    for (let attempt = 1; attempt <= 1 + planned.call.retries; attempt++) {
      result = await this.call(planned, attempt === 1 ? planned.key : `${planned.key}^${attempt}`, incoming);
      if (result.ok) break;
    }
    return result;
  }

  /** One call through the sidecar, with the app's own timeout. */
  private call(planned: PlannedCall, key: string, incoming: IncomingHttpHeaders): Promise<CallResult> {
    const { call } = planned;
    const port = this.snapshot.ports[call.service] ?? 8080;
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(incoming)) {
      if (value !== undefined && !HOP_HEADERS.has(name)) headers[name] = value;
    }
    headers.host = `${call.service}:${port}`;
    headers[HEADER.requestKey] = key;
    return new Promise((resolve) => {
      const { proxy } = this.boot;
      const req = http.request(
        {
          // Through the sidecar in absolute form, as an app behind HTTP_PROXY sends it; on a
          // cluster straight to the service's name, in origin form.
          host: proxy?.host ?? call.service,
          port: proxy?.port ?? port,
          method: call.method,
          path: proxy ? `http://${call.service}:${port}${call.path}` : call.path,
          headers,
          agent: this.agent,
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            clearTimeout(timer);
            resolve(res.statusCode !== undefined && res.statusCode < 400 ? { ok: true } : { ok: false, why: `call to ${call.service} failed with ${res.statusCode}` });
          });
          res.on('error', () => resolve({ ok: false, why: `call to ${call.service} was cut off` }));
        },
      );
      // The app's own client timeout over the whole call (connect to last byte), as Python's requests and Java's clients keep one.
      const limit = call.timeoutMs ?? CALL_SAFETY_TIMEOUT_MS;
      const timer = setTimeout(() => req.destroy(new Error(`timed out after ${limit} ms`)), limit);
      req.on('error', (e) => {
        clearTimeout(timer);
        resolve({ ok: false, why: `call to ${call.service} failed: ${e.message}` });
      });
      req.end();
    });
  }
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
