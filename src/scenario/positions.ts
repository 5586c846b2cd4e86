// Where a path of the scenario document stands in its YAML text, so every problem can
// name its line. A timeline patch's positions overlay the base document's.

import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { Path } from './problems.js';

export interface Position {
  line: number;
  col: number;
}

export interface Locator {
  /** The position of the deepest node along `path`; with `atKey`, of the key naming it. */
  locate(path: Path, atKey?: boolean): Position;
  /** How many leading segments of `path` exist in the document. */
  depth(path: Path): number;
}

interface Found {
  node: Node | null;
  key: Node | null;
  depth: number;
}

export class YamlLocator implements Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly prefix: Path = [],
  ) {}

  /** A locator for the subtree at `prefix`, addressed by paths relative to it. */
  within(prefix: Path): YamlLocator {
    return new YamlLocator(this.doc, this.lines, [...this.prefix, ...prefix]);
  }

  private walk(path: Path): Found {
    let node = this.doc.contents as Node | null;
    let key: Node | null = null;
    let depth = 0;
    const full = [...this.prefix, ...path];
    for (const part of full) {
      if (node && isAlias(node)) node = (node.resolve(this.doc) ?? null) as Node | null;
      let next: Node | null = null;
      let nextKey: Node | null = null;
      if (node && isMap(node)) {
        for (const pair of node.items) {
          if (!isPair(pair)) continue;
          const k = pair.key as Node | null;
          const keyValue = k && isScalar(k) ? k.value : k;
          if (String(keyValue) === String(part)) {
            next = (pair.value as Node | null) ?? null;
            nextKey = k;
            break;
          }
        }
        if (!nextKey) break;
      } else if (node && isSeq(node) && typeof part === 'number' && part < node.items.length) {
        next = node.items[part] as Node | null;
        nextKey = next;
      } else {
        break;
      }
      node = next;
      key = nextKey;
      depth++;
    }
    return { node, key, depth: Math.max(0, depth - this.prefix.length) };
  }

  depth(path: Path): number {
    return this.walk(path).depth;
  }

  locate(path: Path, atKey = false): Position {
    const found = this.walk(path);
    const complete = found.depth === path.length;
    // A missing field is reported at the key of the mapping that should hold it.
    const target = complete && !atKey ? (found.node ?? found.key) : (found.key ?? found.node);
    const offset = target?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    return { line, col };
  }
}
