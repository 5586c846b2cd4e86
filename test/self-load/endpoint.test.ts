import test from 'ava';
import { ControlPlane } from '../../src/control/plane.js';
import { Hub } from '../../src/mesh/hub.js';
import { emptyMeshConfig } from '../../src/policy/config.js';
import { LoadPoster } from '../../src/self-load/endpoint.js';

// A proxy in a process of its own (a Docker sidecar) reports its busy loop to the hub,
// which hears only this run's instances, with this run's secret, saying a share of 0..1.

async function hubWith(heard: Array<[string, number]>) {
  const plane = new ControlPlane({ services: [], config: emptyMeshConfig() }, 1);
  const ids = new Map([['reviews-v1-0', { instance: 'reviews-v1-0', service: 'reviews', version: 'v1', host: '127.0.0.1', port: 1 }]]);
  const hub = new Hub(plane, (id) => ids.get(id), () => {}, (source, busy) => heard.push([source, busy]));
  const port = await hub.listen(['127.0.0.1']);
  return { hub, url: `http://127.0.0.1:${port}` };
}

const post = (url: string, path: string, body: string, secret: string) =>
  fetch(`${url}${path}`, { method: 'POST', body, headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' } });

test('a report from a proxy of this mesh reaches the watch, named for the proxy', async (t) => {
  const heard: Array<[string, number]> = [];
  const { hub, url } = await hubWith(heard);
  const poster = new LoadPoster(url, 'reviews-v1-0', hub.secret);
  try {
    poster.send(0.934);
    poster.send(0.5);
    for (let i = 0; i < 100 && heard.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    t.deepEqual(heard, [['the proxy of reviews-v1-0', 0.934], ['the proxy of reviews-v1-0', 0.5]]);
  } finally {
    poster.stop();
    await hub.close();
  }
});

test('reports from elsewhere are refused, and none of them reach the watch', async (t) => {
  const heard: Array<[string, number]> = [];
  const { hub, url } = await hubWith(heard);
  try {
    t.is((await post(url, '/v1/load/reviews-v1-0', '{"busy":0.9}', 'not-the-secret')).status, 401);
    t.is((await post(url, '/v1/load/ratings-v1-0', '{"busy":0.9}', hub.secret)).status, 404, 'an instance this mesh does not have');
    for (const body of ['{"busy":1.5}', '{"busy":-0.1}', '{"busy":"high"}', '{}', 'not json', JSON.stringify({ busy: 0.9, pad: 'x'.repeat(300) })]) {
      const res = await post(url, '/v1/load/reviews-v1-0', body, hub.secret);
      t.true(res.status === 400 || res.status === 413, `${body.slice(0, 30)}: ${res.status}`);
      t.regex(await res.text(), /busy|at most/);
    }
    t.is((await fetch(`${url}/v1/load/reviews-v1-0`, { headers: { authorization: `Bearer ${hub.secret}` } })).status, 405);
    t.is((await post(url, '/v1/load/reviews-v1-0', '{"busy":1}', hub.secret)).status, 204, 'a loop busy all the time is a valid report');
    t.deepEqual(heard, [['the proxy of reviews-v1-0', 1]]);
  } finally {
    await hub.close();
  }
});
