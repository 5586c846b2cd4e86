// One request of a traffic flow to a tcp service, as nc would make it: a connection to
// the ingress gateway that names its destination with a CONNECT (the gateway's tcp_proxy
// routes it), one line sent, its echo read, the connection closed. The CONNECT's answer
// is the request's status: 200 once the echo came back, the gateway's own 4xx/5xx when
// it could not open the tunnel; a connection that fails otherwise is a failed request.

import net from 'node:net';
import type { Address } from '../runtime/runtime.js';
import { HEADER } from '../control/protocol.js';

/** A request's safety net: answers come in milliseconds, or a delay the scenario set. */
const EXCHANGE_TIMEOUT_MS = 120_000;
const MAX_HEAD = 16 * 1024;

export class TcpExchangeError extends Error {}

export function tcpExchange(gateway: Address, authority: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(gateway.port, gateway.host);
    let buffered = Buffer.alloc(0);
    let tunnel = false;
    let settled = false;
    const finish = (error: Error | undefined, status?: number) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error) reject(error);
      else resolve(status!);
    };
    socket.setTimeout(EXCHANGE_TIMEOUT_MS, () => finish(new TcpExchangeError('no answer')));
    socket.once('connect', () => {
      socket.write(`CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n${HEADER.requestKey}: ${key}\r\nuser-agent: mesh-sim-traffic\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!tunnel) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buffered.length > MAX_HEAD) finish(new TcpExchangeError('the gateway answered the CONNECT with too much'));
          return;
        }
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(buffered.subarray(0, end).toString('latin1'))?.[1] ?? 0);
        if (status !== 200) return finish(undefined, status || 502);
        tunnel = true;
        buffered = buffered.subarray(end + 4);
        socket.write(`${key}\n`);
      }
      const newline = buffered.indexOf(0x0a);
      if (newline < 0) return;
      const echo = buffered.subarray(0, newline).toString('utf8');
      if (echo.endsWith(` ${key}`)) finish(undefined, 200);
      else finish(new TcpExchangeError(`the echo was not of the line sent: ${echo.slice(0, 80)}`));
    });
    socket.once('error', (error) => finish(error));
    socket.once('close', () => finish(new TcpExchangeError('the connection closed before the echo')));
  });
}
