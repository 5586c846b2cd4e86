// Where a scenario's Istio resources come from: its `istio:` list, the kubectl-style
// files its `include:` names (several `---` documents each, relative to the scenario,
// globs allowed), and its timeline's `apply:` lists. Each document is parsed where it
// stands, so a problem in an included file is reported at that file's line.

import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { globSync } from 'tinyglobby';
import { LineCounter, parseAllDocuments } from 'yaml';
import { isPlainObject } from '../scenario/merge-patch.js';
import type { Path, Problem } from '../scenario/problems.js';
import { formatPath } from '../scenario/problems.js';
import type { Reporter } from '../scenario/report.js';
import { YamlLocator } from '../scenario/positions.js';
import { describeValue } from '../scenario/report.js';
import { parseResource, resourceKey, type IstioResource } from './resources.js';
import type { ResourceRef } from '../scenario/model.js';
import { LIMITS } from '../scenario/limits.js';


/**
 * The resources of an `istio:` list or a timeline `apply:`, each at its place in the
 * scenario. In `apply:` an item may also name a file (globs allowed), as `kubectl apply -f`.
 */
export function inlineResources(value: unknown, base: Path, report: Reporter, files?: { scenarioFile: string; sink: (problem: Problem) => void }): IstioResource[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    report.error(base, `expected a list of Istio resources${files ? ' (or files)' : ''}, got ${describeValue(value)}`);
    return [];
  }
  return value.flatMap((item, i) => {
    if (typeof item === 'string' && files) {
      const at: Reporter = { ...report, error: (_p, message, atKey) => report.error([...base, i], message, atKey) };
      return includedResources([item], files.scenarioFile, at, files.sink);
    }
    return parseResource(item, report, [...base, i]) ?? [];
  });
}

/**
 * The resources of the files `include:` names, relative to the scenario file. Problems
 * in the list itself go to `report`; problems inside a file go to `sink` at that file's lines.
 */
export function includedResources(value: unknown, scenarioFile: string, report: Reporter, sink: (problem: Problem) => void): IstioResource[] {
  if (value === undefined || value === null) return [];
  const patterns = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(patterns)) {
    report.error(['include'], `expected a list of files (globs allowed), got ${describeValue(value)}`);
    return [];
  }
  const dir = dirname(scenarioFile);
  const files: string[] = [];
  patterns.forEach((pattern, i) => {
    const at = typeof value === 'string' ? ['include'] : ['include', i];
    if (typeof pattern !== 'string' || pattern.trim() === '') {
      report.error(at, `expected a file name or glob, such as \`istio/*.yaml\`, got ${describeValue(pattern)}`);
      return;
    }
    if (isAbsolute(pattern)) {
      report.error(at, 'an included file is named relative to the scenario file, so the scenario can be shared');
      return;
    }
    const found = globSync(pattern, { cwd: dir, onlyFiles: true, dot: false, expandDirectories: false }).sort();
    if (found.length === 0) {
      report.error(at, /[*?[{]/.test(pattern) ? `no file matches \`${pattern}\` (relative to ${dir || '.'})` : `no such file: \`${pattern}\` (relative to ${dir || '.'})`);
      return;
    }
    for (const f of found) if (!files.includes(f)) files.push(f);
  });
  if (files.length > LIMITS.includedFiles) {
    report.error(['include'], `names ${files.length} files; a scenario includes at most ${LIMITS.includedFiles}`);
    return [];
  }
  let total = 0;
  const resources: IstioResource[] = [];
  for (const f of files) {
    const shown = join(dir, f);
    let text: string;
    try {
      total += statSync(shown).size;
      if (total > LIMITS.includedBytes) {
        sink({ file: shown, line: 0, col: 0, path: '', message: `the included files pass ${LIMITS.includedBytes / 1024 / 1024} MiB in all: an include holds hand-written resources`, severity: 'error' });
        break;
      }
      text = readFileSync(shown, 'utf8');
    } catch (error) {
      sink({ file: shown, line: 0, col: 0, path: '', message: `cannot be read: ${(error as Error).message}`, severity: 'error' });
      continue;
    }
    resources.push(...fileResources(text, shown, sink));
  }
  return resources;
}

/** Every document of a kubectl-style file, parsed as a resource at its own lines. */
export function fileResources(text: string, file: string, sink: (problem: Problem) => void): IstioResource[] {
  if (text.includes('\u0000')) {
    sink({ file, line: 0, col: 0, path: '', message: 'is not a text file (it holds NUL bytes)', severity: 'error' });
    return [];
  }
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const out: IstioResource[] = [];
  const list = Array.isArray(docs) ? docs : [];
  if (!Array.isArray(docs)) {
    // An empty stream: nothing in the file.
    sink({ file, line: 1, col: 1, path: '', message: 'holds no resources', severity: 'warning' });
    return [];
  }
  for (const doc of list) {
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        const pos = lines.linePos(error.pos[0]);
        sink({ file, line: pos.line, col: pos.col, path: '', message: `not valid YAML: ${error.message.split('\n')[0]}`, severity: 'error' });
      }
      continue;
    }
    if (doc.contents === null) continue;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: LIMITS.aliasCount });
    } catch {
      sink({ file, line: 1, col: 1, path: '', message: 'aliases expand past a sane size: a resource needs no more than a few aliases', severity: 'error' });
      continue;
    }
    // A `---` at the end (as Istio's samples have) opens an empty document: nothing in it.
    if (value === null || value === undefined) continue;
    const locator = new YamlLocator(doc, lines);
    const report: Reporter = {
      error: (p, message, atKey) => sink({ file, ...locator.locate(p, atKey), path: formatPath(p), message, severity: 'error' }),
      warn: (p, message, atKey) => sink({ file, ...locator.locate(p, atKey), path: formatPath(p), message, severity: 'warning' }),
      where: (p) => `${file}:${locator.locate(p).line}`,
    };
    // `kind: List` (what `kubectl get -o yaml` prints for several) holds its resources in items.
    if (isPlainObject(value) && value.kind === 'List' && Array.isArray(value.items)) {
      value.items.forEach((item, i) => {
        const r = parseResource(item, report, ['items', i]);
        if (r) out.push(r);
      });
      continue;
    }
    const r = parseResource(value, report, []);
    if (r) out.push(r);
  }
  return out;
}

const KIND_NAMES: Record<string, string> = {
  virtualservice: 'VirtualService', virtualservices: 'VirtualService', vs: 'VirtualService',
  destinationrule: 'DestinationRule', destinationrules: 'DestinationRule', dr: 'DestinationRule',
  peerauthentication: 'PeerAuthentication', peerauthentications: 'PeerAuthentication', pa: 'PeerAuthentication',
  authorizationpolicy: 'AuthorizationPolicy', authorizationpolicies: 'AuthorizationPolicy', ap: 'AuthorizationPolicy',
};

/** A kind as kubectl takes it (`vs`, `virtualservice`, `VirtualService`), in its canonical form. */
export function canonicalKind(kind: string): string {
  return KIND_NAMES[kind.toLowerCase()] ?? kind;
}

/** `kubectl apply`: each resource replaces the one of its kind, namespace and name, or is added. */
export function applyResources(current: readonly IstioResource[], applied: readonly IstioResource[]): IstioResource[] {
  const out = [...current];
  for (const r of applied) {
    const i = out.findIndex((o) => resourceKey(o) === resourceKey(r));
    if (i === -1) out.push(r);
    else out[i] = r;
  }
  return out;
}

/** `kubectl delete`: each named resource goes; one that is not there is reported. */
export function deleteResources(current: readonly IstioResource[], targets: readonly ResourceRef[], report: Reporter, base: Path): IstioResource[] {
  let out = [...current];
  targets.forEach((t, j) => {
    const kind = canonicalKind(t.kind);
    const key = resourceKey({ ...t, kind });
    if (!out.some((r) => resourceKey(r) === key)) {
      const names = out.filter((r) => r.kind === kind).map((r) => r.name);
      report.error([...base, j], `no ${kind} \`${t.name}\` to delete${names.length > 0 ? `; there are: ${names.join(', ')}` : ''} (\`mesh:\` shorthand is changed with \`set\`)`);
      return;
    }
    out = out.filter((r) => resourceKey(r) !== key);
  });
  return out;
}
