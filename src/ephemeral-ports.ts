// The kernel's ephemeral port range: where it draws the source port of every outgoing
// connection and the port of every listen(0). The process runtime keeps the ports it
// hands to children outside it; the in-memory pod loopback counts its made-up source
// ports through it, as the kernel would.

import { readFileSync } from 'node:fs';

export type PortRange = readonly [low: number, high: number];

/** The kernel's ephemeral range: Linux says so in /proc; elsewhere IANA's 49152-65535. */
export function ephemeralRange(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): PortRange {
  try {
    const [low, high] = read('/proc/sys/net/ipv4/ip_local_port_range').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low! <= high!) return [low!, high!];
  } catch { /* not Linux */ }
  return [49152, 65535];
}
