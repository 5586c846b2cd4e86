// Turning zod's issues into problems said where they are: each issue reported through
// a Reporter at its path, with messages that say what to write instead.

import type { z } from 'zod';
import { didYouMean } from './suggest.js';
import { ignoringUnknownKeys, isUnknownKeyIssue, isWarningIssue } from './fields.js';
import type { Path } from './problems.js';

export interface Reporter {
  error(path: Path, message: string, atKey?: boolean): void;
  warn(path: Path, message: string, atKey?: boolean): void;
  /** `FILE:LINE` of a path, for rules that may later be named as a failure's cause. */
  where(path: Path): string;
}

/**
 * Parses one unit, reporting its issues. When the only issues are unknown keys, the
 * unit is still returned (parsed without them) so its references get checked too.
 */
export function parseWith(schema: z.ZodType, value: unknown, path: Path, report: Reporter, atKey = false): unknown {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  for (const issue of result.error.issues) reportIssue(issue, path, report, atKey);
  if (result.error.issues.every((issue) => isUnknownKeyIssue(issue) || isWarningIssue(issue))) {
    const lenient = ignoringUnknownKeys(() => schema.safeParse(value));
    if (lenient.success) return lenient.data;
  }
  return undefined;
}

type Issue = z.core.$ZodIssue;

function reportIssue(issue: Issue, base: Path, report: Reporter, atKey = false): void {
  const path = [...base, ...(issue.path as Array<string | number>)];
  switch (issue.code) {
    case 'invalid_union': {
      // The branch whose first error is deeper than the union itself is the form meant.
      const branches = issue.errors.filter((b) => b.length > 0);
      const meant = branches.find((b) => b.every((i) => i.path.length > 0 || i.code === 'custom')) ?? branches[0];
      if (meant) for (const inner of meant) reportIssue(inner, path, report);
      else report.error(path, issue.message);
      return;
    }
    case 'invalid_type': {
      if (issue.input === undefined) {
        const field = path[path.length - 1];
        report.error(path, `\`${String(field)}\` is required`);
      } else {
        report.error(path, `expected ${typeWord(issue.expected)}, got ${describeValue(issue.input)}`);
      }
      return;
    }
    case 'invalid_value': {
      const values = issue.values.map(String);
      const got = issue.input === undefined ? '' : `, not ${describeValue(issue.input)}`;
      const hint = typeof issue.input === 'string' ? didYouMean(issue.input, values) : '';
      report.error(path, `must be one of ${values.join(', ')}${got}${hint}`);
      return;
    }
    case 'custom': {
      const keyIssue = (issue.params as { at?: string } | undefined)?.at === 'key';
      if (isWarningIssue(issue)) report.warn(path, issue.message, atKey || keyIssue);
      else report.error(path, issue.message, atKey || keyIssue);
      return;
    }
    default:
      report.error(path, issue.message, atKey);
  }
}

function typeWord(expected: string): string {
  switch (expected) {
    case 'object':
    case 'record': return 'a mapping';
    case 'array': return 'a list';
    case 'string': return 'text';
    case 'number': return 'a number';
    case 'boolean': return 'true or false';
    default: return expected;
  }
}

export function describeValue(value: unknown): string {
  if (value === null) return 'nothing (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `text \`${value}\``;
  return `${typeof value} ${String(value)}`;
}

