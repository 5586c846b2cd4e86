// Where a sidecar's connections to its own app come from. Istio binds every inbound
// cluster's upstream connection to 127.0.0.6 (::6 over IPv6), its
// InboundPassthroughBindIpv4, so iptables can tell the sidecar's own traffic to the
// app from the app's: the app sees its callers arrive from 127.0.0.6, and the inbound
// access log's upstream_local_address reads 127.0.0.6:PORT. mesh-sim binds the same
// address where the machine has it, and otherwise lets the kernel pick, as before.

import net from 'node:net';
import os from 'node:os';

export const INBOUND_BIND_IPV4 = '127.0.0.6';
export const INBOUND_BIND_IPV6 = '::6';

type Interfaces = ReturnType<typeof os.networkInterfaces>;

/** The IPv4 address as a 32-bit number. */
function ipv4Number(address: string): number {
  return address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

/**
 * Whether this machine can bind `address`. Linux (and Windows) treat every address of a
 * loopback interface's subnet as local: 127.0.0.1/8 on `lo` makes 127.0.0.6 bindable.
 * macOS binds only the addresses an interface actually holds (127.0.0.6 needs an alias).
 */
export function canBind(address: string, platform: NodeJS.Platform = process.platform, interfaces: Interfaces = os.networkInterfaces()): boolean {
  const wholeSubnet = platform === 'linux' || platform === 'win32';
  for (const entries of Object.values(interfaces)) {
    for (const entry of entries ?? []) {
      if (entry.address === address) return true;
      if (!wholeSubnet || !entry.internal || entry.family !== 'IPv4' || !net.isIPv4(address)) continue;
      const mask = ipv4Number(entry.netmask);
      if (((ipv4Number(entry.address) & mask) >>> 0) === ((ipv4Number(address) & mask) >>> 0)) return true;
    }
  }
  return false;
}

let decided: { v4: string | undefined; v6: string | undefined } | undefined;

/**
 * The source address for connections to an app at `appHost`, or undefined for the
 * kernel's pick: an app anywhere but on the pod's loopback is not reached from it.
 */
export function inboundBindAddress(appHost: string): string | undefined {
  if (!appHost.startsWith('127.') && appHost !== '::1') return undefined;
  decided ??= {
    v4: canBind(INBOUND_BIND_IPV4) ? INBOUND_BIND_IPV4 : undefined,
    v6: canBind(INBOUND_BIND_IPV6) ? INBOUND_BIND_IPV6 : undefined,
  };
  return net.isIPv6(appHost) ? decided.v6 : decided.v4;
}
