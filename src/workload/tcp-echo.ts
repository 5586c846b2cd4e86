// The sample TCP service, as Istio's tcp-echo sample: every line it reads is answered,
// after the service's own latency, with the line prefixed by its version (tcp-echo v1
// says "one", v2 "two"; here the version's name). The latency is drawn from the seed and
// the line, so the same line waits alike on every run.

import net from 'node:net';
import type { WorkloadSnapshot } from '../control/protocol.js';
import { sampleLatency } from '../policy/latency.js';
import { unit } from '../policy/decide.js';
import type { WorkloadBoot } from './boot.js';
import { WorkTimer } from './work-timer.js';
import { listenOn } from '../listen.js';

/** A line longer than this is answered as far as it goes: a client cannot grow our buffer without bound. */
const MAX_LINE = 64 * 1024;

export class TcpEcho {
  private snapshot: WorkloadSnapshot;
  readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly timer = new WorkTimer();

  constructor(private readonly boot: WorkloadBoot) {
    this.snapshot = boot.initial;
    this.server = net.createServer((socket) => this.serve(socket));
  }

  update(snapshot: WorkloadSnapshot): void {
    this.snapshot = snapshot;
  }

  listen(): Promise<number> {
    return listenOn(this.server, this.boot.listen.port, this.boot.listen.host);
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = '';
    // Answers go out in the order lines came, each after its own latency.
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0 || pending.length > MAX_LINE) {
        const end = newline >= 0 ? newline : MAX_LINE;
        const line = pending.slice(0, end).replace(/\r$/, '');
        pending = pending.slice(newline >= 0 ? end + 1 : end);
        const arrived = this.timer.now();
        queue = queue.then(() => this.answer(socket, line, arrived));
      }
    });
    socket.on('end', () => void queue.then(() => socket.end()));
  }

  private async answer(socket: net.Socket, line: string, arrived: number): Promise<void> {
    const { behaviour, seed } = this.snapshot;
    const ms = sampleLatency(behaviour.latency, unit(seed, 'latency', line, 'a'), unit(seed, 'latency', line, 'b'));
    if (ms > 0) await this.timer.until(arrived + ms);
    if (!socket.destroyed && socket.writable) socket.write(`${this.boot.version} ${line}\n`);
  }

  close(): void {
    this.server.close();
    for (const socket of this.sockets) socket.destroy();
  }
}

