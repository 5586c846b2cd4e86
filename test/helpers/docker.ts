// Docker in tests: whether it is here, and images a test needs, built without a registry.

import { baseEntries, binaryEntries, importEntries } from '../../src/runtime/docker/images.js';
import { connectDocker, type DockerClient } from '../../src/runtime/docker/client.js';

export async function dockerAvailable(docker: DockerClient = connectDocker()): Promise<boolean> {
  try {
    await Promise.race([docker.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 3000))]);
    return true;
  } catch {
    return false;
  }
}

/** An app of the user's own: node serving on $PORT, calling `details` through $HTTP_PROXY. */
const APP = `
const http = require('http');
const proxy = new URL(process.env.HTTP_PROXY);
http.createServer((req, res) => {
  const call = http.request({ host: proxy.hostname, port: proxy.port, path: 'http://details:9080/details/1',
    headers: { traceparent: req.headers.traceparent || '', 'x-request-id': req.headers['x-request-id'] || '' } }, (r) => {
    r.resume();
    r.on('end', () => res.end(JSON.stringify({ mine: true, details: r.statusCode })));
  });
  call.on('error', () => { res.statusCode = 502; res.end(); });
  call.end();
}).listen(Number(process.env.PORT), '0.0.0.0', () => console.log('my app on ' + process.env.PORT));
`;

export const USER_IMAGE = 'mesh-sim-test-user-app:1';

/** Builds the user's image once, by import, its CMD and USER given as Dockerfile changes. */
export async function ensureUserImage(docker: DockerClient = connectDocker()): Promise<string> {
  if (await docker.images.exists(USER_IMAGE)) return USER_IMAGE;
  const entries = [...baseEntries(), ...(await binaryEntries(process.execPath, '/usr/bin/node')), { name: 'srv/app.js', content: APP }];
  await importEntries(docker, entries, 'mesh-sim-test-user-app', '1', ['CMD ["/usr/bin/node", "/srv/app.js"]', 'USER 1000:1000']);
  return USER_IMAGE;
}

/** An image with files and no CMD: a container of it cannot start ("No command specified"). */
export const NO_CMD_IMAGE = 'mesh-sim-test-no-cmd:1';

export async function ensureNoCmdImage(docker: DockerClient = connectDocker()): Promise<string> {
  if (await docker.images.exists(NO_CMD_IMAGE)) return NO_CMD_IMAGE;
  await importEntries(docker, [...baseEntries(), { name: 'srv/hello', content: 'hello\n' }], 'mesh-sim-test-no-cmd', '1');
  return NO_CMD_IMAGE;
}
