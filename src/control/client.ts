// Subscribing to the control plane from a sidecar or workload: a long-poll loop that
// hands each new snapshot over, acknowledges it by polling with its version, and
// keeps trying (with backoff) while the control plane is unreachable.

import http from 'node:http';
import { POLL_TIMEOUT_MS } from './protocol.js';
import { authorization } from './http.js';

export interface Subscription {
  stop(): void;
}

export function subscribe<T extends { version: number }>(
  url: string,
  /** May return a promise: the next poll (which acknowledges this version) waits for it. */
  onSnapshot: (snapshot: T) => void | Promise<void>,
  onTrouble: (message: string) => void = () => {},
  initialVersion = 0,
  /** The run's secret, sent as `Authorization: Bearer SECRET`. */
  secret?: string,
): Subscription {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let version = initialVersion;
  let stopped = false;
  let current: http.ClientRequest | undefined;
  let failures = 0;

  const poll = () => {
    if (stopped) return;
    const target = new URL(url);
    target.searchParams.set('version', String(version));
    current = http.get(target, { agent, timeout: POLL_TIMEOUT_MS + 10_000, headers: secret ? { authorization: authorization(secret) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (stopped) return;
        if (res.statusCode === 200) {
          failures = 0;
          let pending: void | Promise<void> = undefined;
          try {
            const snapshot = JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
            version = snapshot.version;
            pending = onSnapshot(snapshot);
          } catch (error) {
            onTrouble(`bad snapshot from the control plane: ${(error as Error).message}`);
          }
          if (pending instanceof Promise) void pending.catch(() => {}).finally(() => setImmediate(poll));
          else setImmediate(poll);
        } else if (res.statusCode === 204) {
          failures = 0;
          setImmediate(poll);
        } else {
          retry(`control plane answered ${res.statusCode}: ${Buffer.concat(chunks).toString('utf8').slice(0, 200)}`);
        }
      });
      res.on('error', (e) => retry(e.message));
    });
    current.on('timeout', () => current?.destroy(new Error('poll timed out')));
    current.on('error', (e) => retry(e.message));
  };

  const retry = (message: string) => {
    if (stopped) return;
    failures++;
    if (failures === 1 || failures % 20 === 0) onTrouble(`control plane unreachable (${message}); retrying`);
    setTimeout(poll, Math.min(2000, 100 * 2 ** Math.min(failures, 5))).unref();
  };

  poll();
  return {
    stop() {
      stopped = true;
      current?.destroy();
      agent.destroy();
    },
  };
}
