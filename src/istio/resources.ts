// One Istio resource as kubectl takes it: apiVersion, kind, metadata and spec, checked
// against Istio's schema for its kind, kept both as parsed (to compile) and as written
// (to print and to export unchanged), with the Reporter that places its problems in
// the file it came from.

import { isPlainObject } from '../scenario/merge-patch.js';
import { didYouMean } from '../scenario/suggest.js';
import { describeValue, parseWith, type Reporter } from '../scenario/report.js';
import type { Path } from '../scenario/problems.js';
import type { Origin } from '../policy/config.js';
import { ISTIO_KINDS, MESH_WIDE_KINDS, OTHER_KINDS, ROOT_NAMESPACE, SPEC_SCHEMAS, metadata as metadataSchema, type IstioKind, type RawMetadata, type RawSpec } from './schema.js';

export const NAMESPACE = 'default';

export interface IstioResource {
  apiVersion: string;
  kind: IstioKind;
  name: string;
  namespace: string;
  metadata: RawMetadata;
  spec: RawSpec;
  /** The document as written: printed and exported unchanged. */
  raw: Record<string, unknown>;
  origin: Origin;
  /** Reports a problem at a path inside this resource (`['spec', 'http', 0]`). */
  report: Reporter;
}

/** kubectl's identity of a resource: what `apply` replaces and `delete` removes. */
export function resourceKey(r: { kind: string; namespace: string; name: string }): string {
  return `${r.kind}/${r.namespace}/${r.name}`;
}

export function describeResource(r: { kind: string; name: string }): string {
  return `${r.kind} ${r.name}`;
}

const TOP_KEYS = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];

/**
 * Parses one document as an Istio resource; problems go to `report` at paths under
 * `base` (the document's place: `['istio', 2]`, or `[]` in an included file).
 */
export function parseResource(value: unknown, report: Reporter, base: Path, shorthand = false): IstioResource | undefined {
  if (!isPlainObject(value)) {
    report.error(base, `expected an Istio resource (apiVersion, kind, metadata, spec), got ${describeValue(value)}`);
    return undefined;
  }
  let ok = true;
  for (const key of Object.keys(value)) {
    if (!TOP_KEYS.includes(key)) {
      report.error([...base, key], `unknown key \`${key}\`${didYouMean(key, TOP_KEYS)}; a resource has apiVersion, kind, metadata and spec`, true);
      ok = false;
    }
  }
  const kind = value.kind;
  if (typeof kind !== 'string') {
    report.error(base, `\`kind\` is required: one of ${ISTIO_KINDS.join(', ')}`);
    return undefined;
  }
  const schema = SPEC_SCHEMAS[kind as IstioKind];
  if (!schema) {
    const instead = OTHER_KINDS[kind];
    report.error([...base, 'kind'], instead
      ? `mesh-sim does not take kind ${kind}: ${instead}`
      : `unknown kind \`${kind}\`${didYouMean(kind, ISTIO_KINDS)}; mesh-sim takes ${ISTIO_KINDS.join(', ')}`);
    return undefined;
  }
  const apiVersion = value.apiVersion;
  if (typeof apiVersion !== 'string' || !(schema.versions as readonly string[]).includes(apiVersion)) {
    const hint = typeof apiVersion === 'string' ? didYouMean(apiVersion, schema.versions) : '';
    report.error([...base, apiVersion === undefined ? 'kind' : 'apiVersion'], `${kind}'s apiVersion is one of ${schema.versions.join(', ')}${apiVersion === undefined ? ', and is required' : `, not \`${String(apiVersion)}\``}${hint}`);
    ok = false;
  }
  if (value.metadata === undefined || value.metadata === null) {
    report.error(base, '`metadata` is required: at least `metadata: {name: NAME}`');
    return undefined;
  }
  const meta = parseWith(metadataSchema, value.metadata, [...base, 'metadata'], report) as RawMetadata | undefined;
  if (!meta) return undefined;
  const namespace = meta.namespace ?? NAMESPACE;
  const meshWide = MESH_WIDE_KINDS.includes(kind) && namespace === ROOT_NAMESPACE;
  if (namespace !== NAMESPACE && !meshWide) {
    const root = MESH_WIDE_KINDS.includes(kind) ? `, or \`${ROOT_NAMESPACE}\` (Istio's root namespace) for a mesh-wide ${kind}` : '';
    report.error([...base, 'metadata', 'namespace'], `mesh-sim's services all live in namespace \`${NAMESPACE}\`; leave namespace out or write \`${NAMESPACE}\`${root}`);
    ok = false;
  }
  if (value.spec === undefined || value.spec === null) {
    report.error(base, '`spec` is required');
    return undefined;
  }
  const spec = parseWith(schema.spec, value.spec, [...base, 'spec'], report) as RawSpec | undefined;
  if (!spec || !ok) return undefined;
  const inside: Reporter = {
    error: (path, message, atKey) => report.error([...base, ...path], message, atKey),
    warn: (path, message, atKey) => report.warn([...base, ...path], message, atKey),
    where: (path) => report.where([...base, ...path]),
  };
  return {
    apiVersion: apiVersion as string,
    kind: kind as IstioKind,
    name: meta.name,
    namespace,
    metadata: meta,
    spec,
    raw: value,
    origin: { kind, name: meta.name, namespace, where: report.where(base), ...(shorthand ? { shorthand: true } : {}) },
    report: inside,
  };
}
