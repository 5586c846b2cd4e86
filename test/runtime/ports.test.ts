import test from 'ava';
import net from 'node:net';
import { ephemeralRange } from '../../src/ephemeral-ports.js';
import { freePorts, releasePorts, safeRange } from '../../src/runtime/process/ports.js';

// Ports for pods: never from the range the kernel draws outgoing source ports from,
// never the same one twice to callers that ask at once. The tests that draw ports run
// one at a time: they share this process's reservations and the range, and one
// test's random probe may hold another's fixed port for a moment.

test('the ephemeral range is read from /proc on Linux, and IANA\'s elsewhere', (t) => {
  t.deepEqual(ephemeralRange(() => '32768\t60999\n'), [32768, 60999]);
  t.deepEqual(ephemeralRange(() => { throw new Error('ENOENT'); }), [49152, 65535]);
  t.deepEqual(ephemeralRange(() => 'garbage'), [49152, 65535]);
});

test('the range handed out lies outside the ephemeral range, on its wider side', (t) => {
  t.deepEqual(safeRange([32768, 60999]), [10000, 32767]);
  t.deepEqual(safeRange([49152, 65535]), [10000, 49151]);
  t.deepEqual(safeRange([1024, 20000]), [20001, 65535]);
  t.is(safeRange([1024, 65000]), undefined, 'too little room either side: the kernel picks');
});

test.serial('ports come from outside this machine\'s ephemeral range', async (t) => {
  const [low, high] = ephemeralRange();
  const ports = await freePorts(40);
  for (const port of ports) t.true(port < low || port > high, `${port} is inside ${low}-${high}`);
  releasePorts(ports);
});

test.serial('concurrent callers never get the same port, even when every draw collides', async (t) => {
  // A fixed random makes every caller try the same port first: only the reservation
  // keeps them apart.
  let n = 0;
  const random = () => ((n++ * 7) % 50) / 50;
  const range = [23000, 23049] as const;
  const batches = await Promise.all(Array.from({ length: 10 }, () => freePorts(4, '127.0.0.1', { range, random })));
  const all = batches.flat();
  t.is(new Set(all).size, all.length, `duplicates in ${all.join(',')}`);
  releasePorts(all);
});

test.serial('a port something else listens on is skipped', async (t) => {
  const busy = net.createServer();
  await new Promise<void>((resolve, reject) => busy.once('error', reject).listen(23100, '127.0.0.1', resolve));
  try {
    let first = true;
    // First draw lands on the busy port, the next on its neighbour.
    const random = () => (first ? ((first = false), 0) : 0.5);
    const [port] = await freePorts(1, '127.0.0.1', { range: [23100, 23101], random });
    t.is(port, 23101);
    releasePorts([port!]);
  } finally {
    busy.close();
  }
});

test.serial('a crowded range falls back to a port the kernel picks, still distinct', async (t) => {
  const taken = await freePorts(1, '127.0.0.1', { range: [23200, 23200] });
  const more = await freePorts(3, '127.0.0.1', { range: [23200, 23200] });
  t.false(more.includes(taken[0]!));
  t.is(new Set(more).size, 3);
  releasePorts([...taken, ...more]);
});

test.serial('released ports can be handed out again', async (t) => {
  const random = () => 0;
  const [a] = await freePorts(1, '127.0.0.1', { range: [23300, 23300], random });
  releasePorts([a!]);
  const [b] = await freePorts(1, '127.0.0.1', { range: [23300, 23300], random });
  t.is(b, 23300);
  releasePorts([b!]);
});
