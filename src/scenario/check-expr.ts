// The check language: `FUNC(service[, version]) OP VALUE`, parsed into an AST.
// Parsing is separate from judging (telemetry/judge.ts) so `validate` can reject a
// bad check before anything starts.

import { parseDuration } from './units.js';
import { didYouMean } from './suggest.js';

export const CHECK_FUNCTIONS = ['rps', 'error_rate', 'p50', 'p90', 'p99', 'requests', 'degraded_rate'] as const;
export type CheckFunction = (typeof CHECK_FUNCTIONS)[number];
export const CHECK_OPERATORS = ['<', '<=', '>', '>='] as const;
export type CheckOperator = (typeof CHECK_OPERATORS)[number];

export interface CheckExpr {
  text: string;
  func: CheckFunction;
  /** A service, or with `flow`, a traffic flow's name: `p99(flow:jason)`. */
  service: string;
  version?: string;
  /** The check judges a flow as its client saw it, not a service. */
  flow?: true;
  op: CheckOperator;
  /** In the function's own unit: milliseconds for p50/p90/p99, a fraction for error_rate. */
  value: number;
}

export class CheckSyntaxError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
    this.name = 'CheckSyntaxError';
  }
}

const LATENCY_FUNCTIONS: ReadonlySet<CheckFunction> = new Set(['p50', 'p90', 'p99']);

export function isLatencyFunction(func: CheckFunction): boolean {
  return LATENCY_FUNCTIONS.has(func);
}

const SHAPE = 'a check reads `FUNC(service[, version]) OP VALUE` or `FUNC(flow:NAME) OP VALUE`, e.g. `p99(productpage) < 2s`';

export function parseCheck(text: string): CheckExpr {
  let pos = 0;
  const skipSpace = () => {
    while (pos < text.length && /\s/.test(text[pos]!)) pos++;
  };
  const word = (what: string): string => {
    skipSpace();
    const match = /^[A-Za-z0-9_.-]+/.exec(text.slice(pos));
    if (!match) throw new CheckSyntaxError(`expected ${what} at column ${pos + 1}; ${SHAPE}`, pos);
    pos += match[0].length;
    return match[0];
  };
  const expect = (char: string) => {
    skipSpace();
    if (text[pos] !== char) {
      const found = pos < text.length ? `\`${text[pos]}\`` : 'the end';
      throw new CheckSyntaxError(`expected \`${char}\` at column ${pos + 1}, found ${found}; ${SHAPE}`, pos);
    }
    pos++;
  };

  skipSpace();
  const funcStart = pos;
  const funcName = word('a function name');
  if (!(CHECK_FUNCTIONS as readonly string[]).includes(funcName)) {
    throw new CheckSyntaxError(
      `unknown check function \`${funcName}\`${didYouMean(funcName, CHECK_FUNCTIONS)}; ` +
        `known: ${CHECK_FUNCTIONS.join(', ')}`,
      funcStart,
    );
  }
  const func = funcName as CheckFunction;
  expect('(');
  skipSpace();
  const flow = text.startsWith('flow:', pos);
  if (flow) pos += 'flow:'.length;
  const service = word(flow ? 'a flow name' : 'a service name');
  skipSpace();
  let version: string | undefined;
  if (text[pos] === ',') {
    if (flow) throw new CheckSyntaxError(`a flow has no versions: write \`${funcName}(flow:${service})\``, pos);
    pos++;
    version = word('a version');
  }
  expect(')');
  skipSpace();
  const opStart = pos;
  const opMatch = /^(<=|>=|<|>)/.exec(text.slice(pos));
  if (!opMatch) {
    const hint = /^(==|=|!=)/.test(text.slice(pos)) ? ' (only <, <=, > and >= compare: a measured rate is never exactly a number)' : '';
    throw new CheckSyntaxError(`expected one of < <= > >= at column ${opStart + 1}${hint}`, opStart);
  }
  const op = opMatch[1] as CheckOperator;
  pos += op.length;
  skipSpace();
  const valueStart = pos;
  const rawValue = text.slice(pos).trim();
  if (rawValue === '') throw new CheckSyntaxError(`expected a value after \`${op}\``, valueStart);
  let value: number;
  if (/^-?\d+(\.\d+)?$/.test(rawValue)) {
    value = Number(rawValue);
  } else {
    const ms = parseDuration(rawValue);
    if (ms === undefined) {
      throw new CheckSyntaxError(`\`${rawValue}\` is neither a number nor a duration like 250ms or 2s`, valueStart);
    }
    if (!isLatencyFunction(func)) {
      throw new CheckSyntaxError(`${func} is not a latency: compare it with a number, not \`${rawValue}\``, valueStart);
    }
    value = ms;
  }
  if ((func === 'error_rate' || func === 'degraded_rate') && (value < 0 || value > 1)) {
    throw new CheckSyntaxError(`${func} is a fraction from 0 to 1 (0.05 is 5 %), not ${value}`, valueStart);
  }
  if (func === 'degraded_rate' && !flow) {
    throw new CheckSyntaxError(`degraded_rate is the share of a flow's answers a service degraded: write \`degraded_rate(flow:NAME)\``, funcStart);
  }
  const expr: CheckExpr = { text, func, service, op, value };
  if (version !== undefined) expr.version = version;
  if (flow) expr.flow = true;
  return expr;
}

export function compare(measured: number, op: CheckOperator, bound: number): boolean {
  switch (op) {
    case '<': return measured < bound;
    case '<=': return measured <= bound;
    case '>': return measured > bound;
    case '>=': return measured >= bound;
  }
}
