// The sample service: per request it waits its own latency, fails by its errorRate,
// or makes its calls (in order, parallel groups at once) through its sidecar's
// outbound listener, copying the request's headers (trace context among them) onto
// each call, and answers with a body of responseSize.

import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { WorkloadSnapshot } from '../control/protocol.js';
import { HEADER } from '../control/protocol.js';
import { attemptKey, planRequest, type PlannedCall, type PlannedStep } from './plan.js';
import type { WorkloadBoot } from './boot.js';

/** Headers that belong to one hop and are not copied onto calls. */
const HOP_HEADERS = new Set([
  'host', 'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'content-length', 'content-type', 'expect', HEADER.attempt, HEADER.requestKey, HEADER.peer, HEADER.upstreamServiceTime,
]);

/** A call's own safety net: the mesh's timeouts are the ones that teach, this only stops leaks. */
const CALL_SAFETY_TIMEOUT_MS = 120_000;

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
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo' });
  private direct = 0;
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

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.boot.listen.port, this.boot.listen.host, () => {
        const address = this.server.address();
        resolve(typeof address === 'object' && address ? address.port : this.boot.listen.port);
      });
    });
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
    this.agent.destroy();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume();
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    const { behaviour, seed } = this.snapshot;
    const key = headerValue(req.headers, HEADER.requestKey) ?? `direct.${this.direct++}`;
    const attempt = Number(headerValue(req.headers, HEADER.attempt) ?? '1') || 1;
    const plan = planRequest(behaviour, seed, attemptKey(key, attempt));
    if (plan.latencyMs >= 1) await sleep(plan.latencyMs);
    if (plan.fails) {
      this.answer(res, behaviour.errorStatus, `{"error":"${this.boot.service} ${this.boot.version} failed this request by itself (errorRate ${behaviour.errorRate})"}`);
      return;
    }
    const failure = await this.runSteps(plan.steps, req.headers, res);
    if (failure) this.answer(res, 502, `{"error":"${failure}"}`);
    else this.answer(res, 200, undefined);
  }

  private answer(res: ServerResponse, status: number, text: string | undefined): void {
    if (res.destroyed) return;
    const payload = text !== undefined
      ? Buffer.from(text + '\n')
      : body(`{"service":"${this.boot.service}","version":"${this.boot.version}","instance":"${this.boot.instance}"}`, this.snapshot.behaviour.responseSize);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': payload.length });
    res.end(payload);
  }

  /** Runs the calls; returns why the request failed, or undefined. */
  private async runSteps(steps: PlannedStep[], headers: IncomingHttpHeaders, res: ServerResponse): Promise<string | undefined> {
    for (const step of steps) {
      if (res.destroyed) return 'the caller went away';
      const calls = step.kind === 'call' ? [step.call] : step.calls;
      const results = await Promise.all(calls.map((c) => this.call(c, headers)));
      const failed = results.find((r, i) => r !== undefined && !calls[i]!.call.optional);
      if (failed) return failed;
    }
    return undefined;
  }

  /** One call through the sidecar; returns why it failed, or undefined. */
  private call(planned: PlannedCall, incoming: IncomingHttpHeaders): Promise<string | undefined> {
    const { call, key } = planned;
    const port = this.snapshot.ports[call.service] ?? 8080;
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(incoming)) {
      if (value !== undefined && !HOP_HEADERS.has(name)) headers[name] = value;
    }
    headers.host = `${call.service}:${port}`;
    headers[HEADER.requestKey] = key;
    return new Promise((resolve) => {
      const req = http.request(
        {
          host: this.boot.proxy.host,
          port: this.boot.proxy.port,
          method: call.method,
          // Absolute form, as an app behind HTTP_PROXY sends it.
          path: `http://${call.service}:${port}${call.path}`,
          headers,
          agent: this.agent,
          timeout: CALL_SAFETY_TIMEOUT_MS,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode !== undefined && res.statusCode < 400 ? undefined : `call to ${call.service} failed with ${res.statusCode}`));
          res.on('error', () => resolve(`call to ${call.service} was cut off`));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (e) => resolve(`call to ${call.service} failed: ${e.message}`));
      req.end();
    });
  }
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
