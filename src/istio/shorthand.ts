// The scenario's `mesh:` shorthand is Istio underneath: each entry means exactly one
// VirtualService and one DestinationRule, written out here as kubectl would take them,
// then parsed and compiled like any other resource. A problem found in them is said at
// the shorthand line it came from, in the shorthand's own terms.

import type { Reporter } from '../scenario/report.js';
import type { Path } from '../scenario/problems.js';
import type { RawMeshPolicy } from '../scenario/schema.js';
import type { ServiceSpec } from '../scenario/model.js';
import { formatDuration } from '../scenario/units.js';
import { parseResource, type IstioResource } from './resources.js';

const API = 'networking.istio.io/v1';
/** Fields the shorthand sets per service and every compiled route carries. */
const ROUTE_FIELDS = ['timeout', 'retries', 'fault', 'mirror'] as const;

/** The Istio documents one `mesh:` entry means, as plain data. */
export function shorthandDocuments(service: string, policy: RawMeshPolicy, spec: ServiceSpec | undefined): Array<Record<string, unknown>> {
  const docs: Array<Record<string, unknown>> = [];
  const routeFields: Record<string, unknown> = {};
  if (policy.timeout !== undefined) routeFields.timeout = formatDuration(policy.timeout);
  if (policy.retries) {
    const r = policy.retries;
    const retries: Record<string, unknown> = { attempts: r.attempts ?? 2 };
    if (r.perTryTimeout !== undefined) retries.perTryTimeout = formatDuration(r.perTryTimeout);
    if (r.retryOn) {
      retries.retryOn = [...r.retryOn.conditions.filter((c) => c !== 'retriable-status-codes' || r.retryOn!.statusCodes.length === 0), ...r.retryOn.statusCodes].join(',');
    }
    routeFields.retries = retries;
  }
  if (policy.fault) {
    const fault: Record<string, unknown> = {};
    if (policy.fault.delay) fault.delay = { percentage: { value: policy.fault.delay.percentage ?? 100 }, fixedDelay: formatDuration(policy.fault.delay.fixedDelay) };
    if (policy.fault.abort) fault.abort = { percentage: { value: policy.fault.abort.percentage ?? 100 }, httpStatus: policy.fault.abort.httpStatus };
    routeFields.fault = fault;
  }
  if (policy.mirror) {
    routeFields.mirror = { host: service, subset: policy.mirror.version };
    routeFields.mirrorPercentage = { value: policy.mirror.percentage ?? 100 };
  }
  const routes = policy.routes ?? [];
  if (routes.length > 0 || Object.keys(routeFields).length > 0) {
    const http = routes.length === 0
      ? [{ route: [{ destination: { host: service } }], ...routeFields }]
      : routes.map((r) => {
          const entry: Record<string, unknown> = {};
          if (r.match && r.match.length > 0) {
            entry.match = r.match.map((m) => {
              const match: Record<string, unknown> = {};
              if (m.path) match.uri = { [m.path.kind]: m.path.value };
              if (m.headers) match.headers = Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, { [v.kind]: v.value }]));
              return match;
            });
          }
          entry.route = r.route.map((d) => ({
            destination: { host: service, subset: d.version },
            ...(d.weight !== undefined && r.route.length > 1 ? { weight: d.weight } : {}),
          }));
          return { ...entry, ...routeFields };
        });
    docs.push({ apiVersion: API, kind: 'VirtualService', metadata: { name: service }, spec: { hosts: [service], http } });
  }
  const trafficPolicy: Record<string, unknown> = {};
  if (policy.connectionPool) {
    const pool: Record<string, unknown> = {};
    if (policy.connectionPool.maxConnections !== undefined) pool.tcp = { maxConnections: policy.connectionPool.maxConnections };
    if (policy.connectionPool.http1MaxPendingRequests !== undefined) pool.http = { http1MaxPendingRequests: policy.connectionPool.http1MaxPendingRequests };
    trafficPolicy.connectionPool = pool;
  }
  if (policy.outlierDetection) {
    const od = policy.outlierDetection;
    const out: Record<string, unknown> = {};
    if (od.consecutive5xxErrors !== undefined) out.consecutive5xxErrors = od.consecutive5xxErrors;
    if (od.interval !== undefined) out.interval = formatDuration(od.interval);
    if (od.baseEjectionTime !== undefined) out.baseEjectionTime = formatDuration(od.baseEjectionTime);
    if (od.maxEjectionPercent !== undefined) out.maxEjectionPercent = od.maxEjectionPercent;
    trafficPolicy.outlierDetection = out;
  }
  const usesSubsets = routes.some((r) => r.route.some((d) => d.version !== undefined)) || policy.mirror !== undefined;
  if (usesSubsets || Object.keys(trafficPolicy).length > 0) {
    const spec_: Record<string, unknown> = { host: service };
    if (Object.keys(trafficPolicy).length > 0) spec_.trafficPolicy = trafficPolicy;
    if (usesSubsets && spec) spec_.subsets = spec.versions.map((v) => ({ name: v.name, labels: { version: v.name } }));
    docs.push({ apiVersion: API, kind: 'DestinationRule', metadata: { name: service }, spec: spec_ });
  }
  return docs;
}

/** Where a path inside a compiled resource stands in the shorthand it came from. */
function shorthandPath(service: string, hasRoutes: boolean, path: Path): Path {
  const base: Path = ['mesh', service];
  const [, section, i, field, ...rest] = path;
  if (path[0] !== 'spec') return base;
  if (section === 'http' && typeof i === 'number') {
    if (typeof field === 'string' && (ROUTE_FIELDS as readonly string[]).includes(field)) return [...base, field, ...rest];
    if (field === 'mirrorPercentage') return [...base, 'mirror', 'percentage'];
    const route: Path = hasRoutes ? [...base, 'routes', i] : base;
    if (field === 'match') {
      const [j, key, ...more] = rest;
      return [...route, 'match', ...(j === undefined ? [] : [j]), ...(key === 'uri' ? ['path'] : key === undefined ? [] : [key]), ...more];
    }
    if (field === 'route') {
      const [j, key] = rest;
      return [...route, 'route', ...(j === undefined ? [] : [j]), ...(key === 'destination' ? ['version'] : [])];
    }
    return route;
  }
  if (section === 'trafficPolicy') {
    // spec.trafficPolicy.connectionPool.tcp.maxConnections → mesh.S.connectionPool.maxConnections
    if (i === 'connectionPool') return [...base, 'connectionPool', ...(rest.length > 0 ? [rest[0]!] : [])];
    if (i === 'outlierDetection') return [...base, 'outlierDetection', ...(field === undefined ? [] : [field])];
  }
  return base;
}

/** The resources `mesh:` means, each reporting at the shorthand's own lines. */
export function shorthandResources(mesh: Record<string, RawMeshPolicy>, services: readonly ServiceSpec[], report: Reporter): IstioResource[] {
  const out: IstioResource[] = [];
  for (const [service, policy] of Object.entries(mesh)) {
    const spec = services.find((s) => s.name === service);
    const hasRoutes = (policy.routes ?? []).length > 0;
    const map = (path: Path) => shorthandPath(service, hasRoutes, path);
    const mapped: Reporter = {
      error: (path, message, atKey) => report.error(map(path), message, atKey),
      warn: (path, message, atKey) => report.warn(map(path), message, atKey),
      where: (path) => report.where(map(path)),
    };
    for (const doc of shorthandDocuments(service, policy, spec)) {
      const resource = parseResource(doc, mapped, [], true);
      if (resource) out.push(resource);
    }
  }
  return out;
}
