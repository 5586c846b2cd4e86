// What is wrong with a scenario, said where it is: `FILE:LINE:COL: PATH: message`.

export type Path = ReadonlyArray<string | number>;

export interface Problem {
  file: string;
  /** 1-based; 0 when the problem is the file as a whole. */
  line: number;
  col: number;
  path: string;
  message: string;
  severity: 'error' | 'warning';
}

/** A scenario that cannot be used, with every problem found in it. */
export class ScenarioError extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ScenarioError';
  }
}

export function formatPath(path: Path): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

export function formatProblem(problem: Problem): string {
  const where = problem.line > 0 ? `${problem.file}:${problem.line}:${problem.col}` : problem.file;
  const path = problem.path === '' ? '' : `${problem.path}: `;
  const severity = problem.severity === 'warning' ? 'warning: ' : '';
  return `${where}: ${path}${severity}${problem.message}`;
}

export function fileProblem(file: string, message: string): Problem {
  return { file, line: 0, col: 0, path: '', message, severity: 'error' };
}
