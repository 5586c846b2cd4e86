// Free loopback ports for children that bind them moments later.
//
// A port the kernel picked with listen(0) comes from the ephemeral range, the same
// range it draws source ports from for outgoing connections. Released and handed to
// a child, such a port can be taken as the source port of any connect() on the machine
// before the child binds it, and the child then fails with EADDRINUSE. So ports are
// drawn from outside the ephemeral range, probed with a bind, and reserved in this
// process so that concurrent callers never receive the same one.

import net from 'node:net';
import { ephemeralRange, type PortRange } from '../../ephemeral-ports.js';

export interface FreePortsOptions {
  /** Where to draw from; by default the widest span outside the ephemeral range. */
  range?: PortRange;
  /** A number in [0, 1); Math.random unless a test fixes it. */
  random?: () => number;
}

/** Lowest port handed out: below it live the well-known and common server ports. */
const FLOOR = 10000;
const TOP = 65535;
/** Probes per wanted port before giving up on the range and asking the kernel. */
const ATTEMPTS = 64;

const reserved = new Set<number>();

/** The wider of the spans below and above the ephemeral range, or undefined if neither is usable. */
export function safeRange(ephemeral: PortRange = ephemeralRange()): PortRange | undefined {
  const below: PortRange = [FLOOR, ephemeral[0] - 1];
  const above: PortRange = [Math.max(FLOOR, ephemeral[1] + 1), TOP];
  const size = (r: PortRange) => r[1] - r[0] + 1;
  const best = size(below) >= size(above) ? below : above;
  return size(best) >= 1000 ? best : undefined;
}

function probe(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function kernelPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function onePort(host: string, range: PortRange | undefined, random: () => number): Promise<number> {
  if (range) {
    for (let i = 0; i < ATTEMPTS; i++) {
      const port = range[0] + Math.floor(random() * (range[1] - range[0] + 1));
      if (reserved.has(port)) continue;
      reserved.add(port); // before the probe's await, so a concurrent caller skips it
      if (await probe(port, host)) return port;
      reserved.delete(port);
    }
  }
  // No usable range, or it is crowded: the kernel's pick is still free right now.
  for (;;) {
    const port = await kernelPort(host);
    if (!reserved.has(port)) { reserved.add(port); return port; }
  }
}

/** This machine's safe range, read once: the ephemeral range does not move under a run. */
let machineRange: { range: PortRange | undefined } | undefined;

/** `count` distinct ports free on `host` now, none handed out before by this process. */
export async function freePorts(count: number, host = '127.0.0.1', options: FreePortsOptions = {}): Promise<number[]> {
  machineRange ??= { range: safeRange() };
  const range = options.range ?? machineRange.range;
  const random = options.random ?? Math.random;
  return Promise.all(Array.from({ length: count }, () => onePort(host, range, random)));
}

/** Gives ports back once nothing binds them any more (a pod gone for good). */
export function releasePorts(ports: Iterable<number>): void {
  for (const port of ports) reserved.delete(port);
}
