// Docker in tests: whether it is here, and images a test needs, built without a registry.

import Docker from 'dockerode';
import { baseEntries, binaryEntries, imageExists, importEntries } from '../../src/runtime/docker/images.js';

export async function dockerAvailable(docker = new Docker()): Promise<boolean> {
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

/** Builds the user's image once: files by import, then a commit to give it a default CMD. */
export async function ensureUserImage(docker = new Docker()): Promise<string> {
  if (await imageExists(docker, USER_IMAGE)) return USER_IMAGE;
  const entries = [...baseEntries(), ...(await binaryEntries(process.execPath, '/usr/bin/node')), { name: 'srv/app.js', content: APP }];
  await importEntries(docker, entries, 'mesh-sim-test-user-app', 'files');
  const container = await docker.createContainer({ Image: 'mesh-sim-test-user-app:files', Cmd: ['/usr/bin/node', '/srv/app.js'], User: '1000:1000' });
  await container.commit({ repo: 'mesh-sim-test-user-app', tag: '1' });
  await container.remove({ force: true });
  return USER_IMAGE;
}
