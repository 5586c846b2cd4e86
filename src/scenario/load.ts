// Reading a scenario file: every problem found, each at its line (in an included file,
// at that file's line), or a Scenario with the states it passes through as its
// timeline's `set`, `apply` and `delete` events take effect.

import { readFile, stat } from 'node:fs/promises';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { buildScenario, type ParsedSections, type StateResources } from './build.js';
import { applyResources, canonicalKind, deleteResources, includedResources, inlineResources } from '../istio/documents.js';
import type { IstioResource } from '../istio/resources.js';
import { describeValue, parseWith, type Reporter } from './report.js';
import { mergePatch, isPlainObject } from './merge-patch.js';
import type { Scenario } from './model.js';
import {
  REQUIRED_SECTIONS, SECTION_NAMES, ignoringUnknownKeys, isUnknownKeyIssue, listSections, mapSections, scalarSections, serviceNameKey,
  type RawMeshPolicy,
} from './schema.js';
import { fileProblem, formatPath, ScenarioError, type Path, type Problem } from './problems.js';
import { YamlLocator, type Locator, type Position } from './positions.js';
import { didYouMean } from './suggest.js';
import { LIMITS } from './limits.js';


export interface LoadedScenario {
  scenario: Scenario;
  /** The scenario as it stands after each timeline event with a `set`, `apply` or `delete`, by event index. */
  states: Map<number, Scenario>;
  warnings: Problem[];
}

export async function loadScenarioFile(file: string): Promise<LoadedScenario> {
  let text: string;
  try {
    const info = await stat(file);
    if (info.isDirectory()) throw new ScenarioError([fileProblem(file, 'is a directory, not a scenario file')]);
    if (info.size > LIMITS.scenarioBytes) {
      throw new ScenarioError([fileProblem(file, `is ${(info.size / 1024 / 1024).toFixed(1)} MiB; a scenario is at most ${LIMITS.scenarioBytes / 1024 / 1024} MiB of hand-written YAML`)]);
    }
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof ScenarioError) throw error;
    throw new ScenarioError([fileProblem(file, describeFsError(error))]);
  }
  return parseScenario(text, file);
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT': return 'no such file';
    case 'EACCES':
    case 'EPERM': return 'cannot be read: permission denied';
    case 'EISDIR': return 'is a directory, not a scenario file';
    default: return `cannot be read: ${(error as Error).message}`;
  }
}

export function parseScenario(text: string, file: string): LoadedScenario {
  if (Buffer.byteLength(text) > LIMITS.scenarioBytes) {
    throw new ScenarioError([fileProblem(file, `is larger than ${LIMITS.scenarioBytes / 1024 / 1024} MiB; a scenario is hand-written YAML`)]);
  }
  if (text.includes('\u0000')) throw new ScenarioError([fileProblem(file, 'is not a text file (it holds NUL bytes)')]);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, keepSourceTokens: false });
  const problems = new Problems(file);
  for (const error of doc.errors) {
    const pos = lines.linePos(error.pos[0]);
    problems.add({ file, line: pos.line, col: pos.col, path: '', message: yamlMessage(error.message), severity: 'error' });
  }
  if (problems.hasErrors()) throw new ScenarioError(problems.all());
  if (doc.contents === null) {
    throw new ScenarioError([{ file, line: 1, col: 1, path: '', message: 'the file is empty: a scenario needs at least `name` and `services`', severity: 'error' }]);
  }
  let document: unknown;
  try {
    document = doc.toJS({ maxAliasCount: LIMITS.aliasCount });
  } catch (error) {
    const message = error instanceof ReferenceError || /alias/i.test(String(error))
      ? 'aliases expand past a sane size (a "billion laughs" YAML bomb?): a scenario needs no more than a few aliases'
      : `cannot be read as data: ${(error as Error).message}`;
    throw new ScenarioError([{ file, line: 1, col: 1, path: '', message, severity: 'error' }]);
  }
  if (!isPlainObject(document)) {
    const pos = lines.linePos(doc.contents.range?.[0] ?? 0);
    throw new ScenarioError([{ file, line: pos.line, col: pos.col, path: '', message: `a scenario is a mapping of name, services, mesh, traffic...; this file holds ${Array.isArray(document) ? 'a list' : 'a single value'}`, severity: 'error' }]);
  }

  const locator = new YamlLocator(doc, lines);
  refuseOversized(file, document, locator);
  const resources = gatherResources(file, document, locator, problems);
  const base = validate(file, document, locator, (p) => formatPath(p), problems, undefined, { resources: resources.base, applies: resources.applies });
  const states = validatePatches(file, document, doc, lines, locator, problems, resources);
  if (problems.hasErrors() || !base) throw new ScenarioError(problems.all());
  return { scenario: base, states, warnings: problems.all() };
}

/** The sections whose length a scenario is held to, and the limit each has (FORMAT.md, "Limits"). */
const SECTION_LIMITS: Array<[string, number, string]> = [
  ['services', LIMITS.services, 'services'],
  ['mesh', LIMITS.services, 'services'],
  ['traffic', LIMITS.flows, 'flows'],
  ['timeline', LIMITS.events, 'events'],
  ['checks', LIMITS.checks, 'checks'],
];

/** A scenario past a limit is refused before any of it is analysed: a mistake, not a mesh to check. */
function refuseOversized(file: string, document: Record<string, unknown>, locator: Locator): void {
  const problems: Problem[] = [];
  for (const [key, most, what] of SECTION_LIMITS) {
    const value = document[key];
    const count = Array.isArray(value) ? value.length : isPlainObject(value) ? Object.keys(value).length : 0;
    if (count <= most) continue;
    const { line, col } = locator.locate([key], true);
    problems.push({ file, line, col, path: key, message: `holds ${count}; a scenario has at most ${most} ${what}`, severity: 'error' });
  }
  if (problems.length > 0) throw new ScenarioError(problems);
}

/** yaml's messages name the rule; ours say what to do about it. */
function yamlMessage(message: string): string {
  const first = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  if (/Map keys must be unique/.test(first)) return `${first}: a key appears twice in the same mapping`;
  if (/Tabs are not allowed/i.test(first)) return `${first}: indent with spaces`;
  return `not valid YAML: ${first}`;
}

interface GatheredResources {
  /** `istio:` and `include:`, in that order. */
  base: IstioResource[];
  /** Each timeline event's `apply:`, by event index. */
  applies: Map<number, IstioResource[]>;
}

/** Every Istio resource the file brings, parsed once, each reporting at its own place. */
function gatherResources(file: string, document: Record<string, unknown>, locator: Locator, problems: Problems): GatheredResources {
  const report = makeReporter(file, locator, formatPath, (p) => problems.add(p));
  // As `kubectl apply` of each in turn: a later resource of the same kind and name replaces an earlier one.
  const base = applyResources(inlineResources(document.istio, ['istio'], report), includedResources(document.include, file, report, (p) => problems.add(p)));
  const applies = new Map<number, IstioResource[]>();
  const timeline = Array.isArray(document.timeline) ? document.timeline : [];
  timeline.forEach((event, k) => {
    if (isPlainObject(event) && event.apply !== undefined) {
      applies.set(k, inlineResources(event.apply, ['timeline', k, 'apply'], report, { scenarioFile: file, sink: (p) => problems.add(p) }));
    }
  });
  return { base, applies };
}

/** Problems gathered once each, in file order (an included file's after the scenario's). */
class Problems {
  private readonly list: Problem[] = [];
  private readonly seen = new Set<string>();
  constructor(readonly file: string) {}
  add(problem: Problem): void {
    const key = `${problem.file}:${problem.line}:${problem.col}:${problem.path}:${problem.message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push(problem);
  }
  hasErrors(): boolean {
    return this.list.some((p) => p.severity === 'error');
  }
  all(): Problem[] {
    const own = (p: Problem) => (p.file === this.file ? 0 : 1);
    return [...this.list].sort((a, b) => own(a) - own(b) || a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
  }
}

type Display = (path: Path) => string;

/** Receives each problem with the path it concerns in the document being validated. */
type Sink = (problem: Problem, path: Path) => void;

function makeReporter(file: string, locator: Locator, display: Display, sink: Sink): Reporter {
  const at = (path: Path, message: string, severity: Problem['severity'], atKey = false) => {
    const pos: Position = locator.locate(path, atKey);
    sink({ file, line: pos.line, col: pos.col, path: display(path), message, severity }, path);
  };
  return {
    error: (path, message, atKey) => at(path, message, 'error', atKey),
    warn: (path, message, atKey) => at(path, message, 'warning', atKey),
    where: (path) => `${file}:${locator.locate(path).line}`,
  };
}

/** Parses and builds one state of the document; undefined when it has errors. */
function validate(
  file: string,
  document: Record<string, unknown>,
  locator: Locator,
  display: Display,
  problems: Problems,
  sink: Sink = (p) => problems.add(p),
  resources?: StateResources,
): Scenario | undefined {
  let errors = 0;
  const counting: Sink = (p, path) => {
    if (p.severity === 'error') errors++;
    sink(p, path);
  };
  const report = makeReporter(file, locator, display, counting);
  const parsed = parseSections(document, report);
  const before = problems.hasErrors();
  const built = buildScenario(file, parsed, document, report, resources);
  // Resources report into `problems` directly, at their own files and lines.
  if (errors > 0 || built.name === undefined || (!before && problems.hasErrors())) return undefined;
  return { ...built, name: built.name };
}

function parseSections(document: Record<string, unknown>, report: Reporter): ParsedSections {
  for (const key of Object.keys(document)) {
    if (!SECTION_NAMES.includes(key)) {
      report.error([key], `unknown key \`${key}\`${didYouMean(key, SECTION_NAMES)}; a scenario has: ${SECTION_NAMES.join(', ')}`, true);
    }
  }
  for (const key of REQUIRED_SECTIONS) {
    if (document[key] === undefined || document[key] === null) {
      report.error([], key === 'services' ? '`services` is required: a scenario needs at least one service' : `\`${key}\` is required`);
    }
  }
  const scalar = <K extends keyof typeof scalarSections>(key: K) => {
    const value = document[key];
    if (value === undefined || value === null) return undefined;
    return parseWith(scalarSections[key], value, [key], report) as z.output<(typeof scalarSections)[K]> | undefined;
  };
  const map = <K extends keyof typeof mapSections>(key: K): Array<[string, z.output<(typeof mapSections)[K]> | undefined]> | undefined => {
    const value = document[key];
    if (value === undefined || value === null) return undefined;
    if (!isPlainObject(value)) {
      report.error([key], `expected a mapping from service name to its ${key === 'services' ? 'spec' : 'policy'}, got ${describeValue(value)}`);
      return undefined;
    }
    return Object.entries(value).map(([name, spec]) => {
      if (key === 'services') parseWith(serviceNameKey, name, [key, name], report, true);
      return [name, parseWith(mapSections[key], spec, [key, name], report) as z.output<(typeof mapSections)[K]> | undefined];
    });
  };
  const list = <K extends keyof typeof listSections>(key: K): Array<z.output<(typeof listSections)[K]> | undefined> | undefined => {
    const value = document[key];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) {
      report.error([key], `expected a list, got ${describeValue(value)}`);
      return undefined;
    }
    // A broken item leaves a hole, so the items after it keep their indexes.
    return value.map((item, i) => parseWith(listSections[key], item, [key, i], report)) as Array<z.output<(typeof listSections)[K]> | undefined>;
  };
  const mesh = map('mesh');
  return {
    name: scalar('name'),
    description: scalar('description'),
    seed: scalar('seed'),
    duration: scalar('duration'),
    services: map('services') ?? [],
    mesh: mesh ? Object.fromEntries(mesh.filter((entry): entry is [string, RawMeshPolicy] => entry[1] !== undefined)) : undefined,
    traffic: list('traffic'),
    timeline: list('timeline'),
    checks: list('checks'),
  };
}

// ---- timeline patches ----------------------------------------------------------

const PATCHABLE: readonly string[] = ['services', 'mesh', 'traffic'];
const NOT_PATCHABLE_HINT: Record<string, string> = {
  istio: 'change Istio resources with `apply` and `delete`, as kubectl does',
  include: 'change Istio resources with `apply` and `delete`, as kubectl does',
};

/** Does the merge patch write `path`, or replace something that holds it? */
function patchTouches(patch: unknown, path: Path): boolean {
  let node = patch;
  for (const part of path) {
    if (!isPlainObject(node)) return true;
    if (!(String(part) in node)) return false;
    node = node[String(part)];
  }
  return true;
}

class PatchLocator implements Locator {
  constructor(
    private readonly patch: Record<string, unknown>,
    private readonly inPatch: YamlLocator,
    private readonly before: Locator,
  ) {}
  locate(path: Path, atKey?: boolean): Position {
    return patchTouches(this.patch, path) ? this.inPatch.locate(path, atKey) : this.before.locate(path, atKey);
  }
  depth(path: Path): number {
    return this.before.depth(path);
  }
}

function validatePatches(
  file: string,
  base: Record<string, unknown>,
  doc: Document,
  lines: LineCounter,
  baseLocator: YamlLocator,
  problems: Problems,
  gathered: GatheredResources,
): Map<number, Scenario> {
  const states = new Map<number, Scenario>();
  const timeline = Array.isArray(base.timeline) ? base.timeline : [];
  let current: Record<string, unknown> = withoutTimeline(base);
  let locator: Locator = baseLocator;
  let resources: IstioResource[] = gathered.base;
  const baseReport = makeReporter(file, baseLocator, formatPath, (p) => problems.add(p));
  // A problem is news to a patch only if no earlier state had it at the same place.
  const knownProblems = new Set<string>();
  const problemKey = (p: Problem, path: Path) => `${formatPath(path)}|${p.message}`;
  validate(file, current, locator, formatPath, problems, (p, path) => knownProblems.add(problemKey(p, path)), { resources, applies: gathered.applies });
  const shapeBefore = () => instanceShape(current);

  timeline.forEach((event, k) => {
    if (!isPlainObject(event)) return;
    const changesResources = event.apply !== undefined || Array.isArray(event.delete);
    if (changesResources) {
      resources = applyResources(resources, gathered.applies.get(k) ?? []);
      if (Array.isArray(event.delete)) {
        const targets = event.delete.flatMap((d) => (isPlainObject(d) && typeof d.kind === 'string' && typeof d.name === 'string'
          ? [{ kind: canonicalKind(d.kind), name: d.name, namespace: typeof d.namespace === 'string' ? d.namespace : 'default' }] : []));
        resources = deleteResources(resources, targets, baseReport, ['timeline', k, 'delete']);
      }
    }
    if (!isPlainObject(event.set)) {
      if (!changesResources) return;
      const state = validate(file, current, locator, formatPath, problems, (p, path) => {
        const key = problemKey(p, path);
        if (knownProblems.has(key)) return;
        knownProblems.add(key);
        problems.add(p);
      }, { resources, applies: gathered.applies });
      if (state) states.set(k, state);
      return;
    }
    const patchPath: Path = ['timeline', k, 'set'];
    const inPatch = new YamlLocator(doc, lines).within(patchPath);
    const patch: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(event.set)) {
      if (PATCHABLE.includes(key)) patch[key] = value;
      else {
        const pos = inPatch.locate([key], true);
        problems.add({ file, line: pos.line, col: pos.col, path: formatPath([...patchPath, key]), severity: 'error',
          message: `a timeline \`set\` can change ${PATCHABLE.join(', ')}; not \`${key}\`${NOT_PATCHABLE_HINT[key] ? `: ${NOT_PATCHABLE_HINT[key]}` : didYouMean(key, PATCHABLE)}` });
      }
    }
    const before = shapeBefore();
    const next = mergePatch(current, patch) as Record<string, unknown>;
    const nextLocator = new PatchLocator(patch, inPatch, locator);
    const display: Display = (p) => (patchTouches(patch, p) ? formatPath([...patchPath, ...p]) : formatPath(p));
    const state = validate(file, next, nextLocator, display, problems, (p, path) => {
      const key = problemKey(p, path);
      if (knownProblems.has(key)) return;
      knownProblems.add(key);
      if (p.path.startsWith(formatPath(patchPath))) problems.add(p);
      else {
        const pos = inPatch.locate([]);
        problems.add({ ...p, line: pos.line, col: pos.col, path: formatPath(patchPath), message: `once this applies, ${p.path}: ${p.message}` });
      }
    }, { resources, applies: gathered.applies });
    const after = instanceShape(next);
    for (const change of shapeChanges(before, after)) {
      const pos = inPatch.locate(['services', change.service], true);
      problems.add({ file, line: pos.line, col: pos.col, path: formatPath([...patchPath, 'services', change.service]), severity: 'error',
        message: `${change.what}: the mesh's instances are fixed when it starts (use kill and restart to stop and start them)` });
    }
    if (state) states.set(k, state);
    current = next;
    locator = nextLocator;
  });
  return states;
}

function withoutTimeline(document: Record<string, unknown>): Record<string, unknown> {
  const { timeline: _t, checks: _c, ...rest } = document;
  return rest;
}

/** What fixes the set of running instances: services, versions, replicas, ports and programs. */
function instanceShape(document: Record<string, unknown>): Map<string, string> {
  const shape = new Map<string, string>();
  if (!isPlainObject(document.services)) return shape;
  for (const [name, raw] of Object.entries(document.services)) {
    const spec = isPlainObject(raw) ? raw : {};
    const versions = isPlainObject(spec.versions) ? spec.versions : {};
    const versionShape = Object.entries(versions).map(([v, vs]) => {
      const s = isPlainObject(vs) ? vs : {};
      return [v, s.replicas, s.image, s.command];
    });
    shape.set(name, JSON.stringify([spec.port, spec.replicas, spec.image, spec.command, versionShape]));
  }
  return shape;
}

function shapeChanges(before: Map<string, string>, after: Map<string, string>): Array<{ service: string; what: string }> {
  const changes: Array<{ service: string; what: string }> = [];
  for (const name of after.keys()) if (!before.has(name)) changes.push({ service: name, what: `a timeline \`set\` cannot add service \`${name}\`` });
  for (const name of before.keys()) {
    if (!after.has(name)) changes.push({ service: name, what: `a timeline \`set\` cannot remove service \`${name}\`` });
    else if (before.get(name) !== after.get(name)) {
      changes.push({ service: name, what: `a timeline \`set\` cannot change ${name}'s versions, replicas, port, image or command` });
    }
  }
  return changes;
}
