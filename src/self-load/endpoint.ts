// How a proxy in a process of its own (a Docker container) tells mesh-sim how busy its
// event loop is: POST /v1/load/INSTANCE {"busy": 0.93} to the hub, which hands it to the
// session's watch as the node processes' IPC reports are. Both ends are here, so the
// wire format lives in one file.

import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { postToHub, readBounded, sendJson } from '../control/http.js';

const PATH = /^\/v1\/load\/([A-Za-z0-9._-]+)$/;
const MAX_BODY_BYTES = 256;

/** The watch's name for a proxy reporting for itself: it reads "the proxy of reviews-v1-0 was busy 100% ...". */
export const proxySource = (instance: string): string => `the proxy of ${instance}`;

/** Handles POST /v1/load/INSTANCE; false for other paths. Only instances of this mesh are heard. */
export function handleLoad(
  known: (instance: string) => boolean,
  onLoad: (source: string, busy: number) => void,
  req: IncomingMessage,
  res: ServerResponse,
): boolean {
  const match = PATH.exec((req.url ?? '').split('?')[0]!);
  if (!match) return false;
  if (req.method !== 'POST') {
    req.resume();
    sendJson(res, 405, { error: 'POST {"busy": 0..1} here' });
    return true;
  }
  const instance = match[1]!;
  void readBounded(req, MAX_BODY_BYTES).then(({ body, tooLarge }) => {
    if (!known(instance)) return sendJson(res, 404, { error: `no instance ${instance} in this mesh` });
    if (tooLarge) return sendJson(res, 413, { error: `a load report is at most ${MAX_BODY_BYTES} bytes` });
    let busy: unknown;
    try {
      busy = (JSON.parse(body.toString('utf8')) as { busy?: unknown }).busy;
    } catch {
      // Answered below as any other malformed report.
    }
    if (typeof busy !== 'number' || !(busy >= 0 && busy <= 1)) return sendJson(res, 400, { error: 'expected {"busy": a number from 0 to 1}' });
    onLoad(proxySource(instance), busy);
    res.writeHead(204).end();
  }, () => res.destroy());
  return true;
}

/** Sends this instance's load reports to the hub; a report that cannot be sent is dropped (the next one follows in a second). */
export class LoadPoster {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private readonly url: URL;

  constructor(controlUrl: string, instance: string, private readonly secret: string) {
    this.url = new URL(`/v1/load/${instance}`, controlUrl);
  }

  send(busy: number): void {
    const body = JSON.stringify({ busy: Math.round(busy * 1000) / 1000 });
    postToHub(this.url, this.secret, body, { timeoutMs: 2000, agent: this.agent }).catch(() => {});
  }

  stop(): void {
    this.agent.destroy();
  }
}
