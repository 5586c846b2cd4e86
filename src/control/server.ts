// The control plane's HTTP face: long polls from sidecars and workloads, one each, or
// one per node process for all the pods it hosts. A poll that names the version the
// caller holds acknowledges it and waits for the next one.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ControlPlane, InstanceIdentity } from './plane.js';
import { sendJson } from './http.js';
import { POLL_TIMEOUT_MS, type NodeSnapshot, type WorkloadSnapshot } from './protocol.js';

type Route = 'sidecar' | 'workload' | 'node';

const ids = (text: string | null): string[] => (text ? text.split(',').filter((id) => /^[A-Za-z0-9._-]+$/.test(id)) : []);

/** Handles /v1/sidecar/{instance}, /v1/workload/{instance} and /v1/node/{node}; false for other paths. */
export function handleControl(
  plane: ControlPlane,
  identities: (instance: string) => InstanceIdentity | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  pollTimeoutMs = POLL_TIMEOUT_MS,
): boolean {
  const url = new URL(req.url ?? '/', 'http://control');
  const match = /^\/v1\/(sidecar|workload|node)\/([A-Za-z0-9._-]+)$/.exec(url.pathname);
  if (!match || req.method !== 'GET') return false;
  const route = match[1] as Route;
  const instance = match[2]!;
  const held = Number(url.searchParams.get('version') ?? '0');
  let reply: () => void;
  let fresh = false;
  if (route === 'node') {
    // Each listed sidecar holds `held`: the node's poll acknowledges it for each.
    for (const sidecar of ids(url.searchParams.get('sidecars'))) if (identities(sidecar)) plane.noteSidecarPoll(sidecar, held, Date.now());
    const workloads = ids(url.searchParams.get('workloads'));
    // Members that have no snapshot yet are answered at once.
    fresh = ids(url.searchParams.get('fresh')).length > 0;
    reply = () => {
      const out: Record<string, WorkloadSnapshot> = {};
      for (const id of workloads) {
        const identity = identities(id);
        const snapshot = identity && plane.workloadSnapshot(identity.service, identity.version);
        if (snapshot) out[id] = snapshot;
      }
      sendJson(res, 200, { version: plane.version, sidecar: plane.sidecarSnapshot(), workloads: out } satisfies NodeSnapshot);
    };
  } else {
    const identity = identities(instance);
    if (!identity) {
      sendJson(res, 404, { error: `no instance ${instance} in this mesh` });
      return true;
    }
    if (route === 'sidecar') plane.noteSidecarPoll(instance, held, Date.now());
    reply = () => {
      if (route === 'sidecar') sendJson(res, 200, plane.sidecarSnapshot());
      else {
        const snapshot = plane.workloadSnapshot(identity.service, identity.version);
        if (snapshot) sendJson(res, 200, snapshot);
        else sendJson(res, 404, { error: `no behaviour for ${identity.service} ${identity.version}` });
      }
    };
  }
  // Judged after the polls were noted: an acknowledgement may itself have moved the version on.
  if (fresh || held !== plane.version) {
    reply();
    return true;
  }
  const onChange = () => {
    cleanup();
    reply();
  };
  const timer = setTimeout(() => {
    cleanup();
    res.writeHead(204).end();
  }, pollTimeoutMs);
  const cleanup = () => {
    clearTimeout(timer);
    plane.off('change', onChange);
    req.off('close', onClose);
  };
  const onClose = () => {
    if (!res.writableEnded) cleanup();
  };
  plane.on('change', onChange);
  req.on('close', onClose);
  return true;
}
