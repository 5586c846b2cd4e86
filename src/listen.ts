// Listening as every mesh-sim server does: on one host and port, resolving with the port
// actually bound (port 0 picks one), rejecting with the error if it cannot.

import type net from 'node:net';

export function listenOn(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}
