import test from 'ava';
import net from 'node:net';
import type os from 'node:os';
import { canBind, inboundBindAddress, INBOUND_BIND_IPV4 } from '../../src/sidecar/inbound-bind.js';
import { listenOn } from '../../src/listen.js';

// Istio's sidecar connects to its app from 127.0.0.6: where this machine can bind it,
// so does mesh-sim's, and where it cannot, the kernel picks as before.

type Interfaces = ReturnType<typeof os.networkInterfaces>;
const loopbackOnly: Interfaces = {
  lo: [
    { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' },
    { address: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', family: 'IPv6', mac: '00:00:00:00:00:00', internal: true, cidr: '::1/128', scopeid: 0 },
  ],
};

test('Linux binds any address of the loopback subnet; macOS only the ones an interface holds', (t) => {
  t.true(canBind('127.0.0.6', 'linux', loopbackOnly));
  t.false(canBind('127.0.0.6', 'darwin', loopbackOnly), 'macOS needs an alias for 127.0.0.6');
  const aliased: Interfaces = { lo0: [...loopbackOnly.lo!, { ...loopbackOnly.lo![0]!, address: '127.0.0.6', cidr: '127.0.0.6/8' }] };
  t.true(canBind('127.0.0.6', 'darwin', aliased), 'an alias makes it bindable');
  t.false(canBind('::6', 'linux', loopbackOnly), '::6 is not on lo unless someone adds it');
  t.false(canBind('10.0.0.6', 'linux', loopbackOnly));
  const external: Interfaces = { eth0: [{ address: '10.0.0.2', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '10.0.0.2/24' }] };
  t.false(canBind('10.0.0.6', 'linux', external), 'only a loopback interface\'s subnet counts whole');
});

test('only an app on the pod\'s loopback is reached from 127.0.0.6', (t) => {
  t.is(inboundBindAddress('10.1.2.3'), undefined);
  t.is(inboundBindAddress('localhost'), undefined);
  t.is(inboundBindAddress('127.0.0.1'), canBind(INBOUND_BIND_IPV4) ? INBOUND_BIND_IPV4 : undefined);
});

test('where this machine says it can, a real connection comes from 127.0.0.6', async (t) => {
  const from = inboundBindAddress('127.0.0.1');
  if (process.platform === 'linux') t.is(from, INBOUND_BIND_IPV4, 'Linux has the whole of 127/8 on lo');
  const server = net.createServer();
  const port = await listenOn(server, 0, '127.0.0.1');
  const accepted = new Promise<string | undefined>((resolve) => server.once('connection', (s) => {
    resolve(s.remoteAddress);
    s.destroy();
  }));
  const client = net.connect({ port, host: '127.0.0.1', localAddress: from });
  client.on('error', () => {});
  t.is(await accepted, from ?? '127.0.0.1');
  client.destroy();
  server.close();
});
