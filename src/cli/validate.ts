// `mesh-sim validate FILE...`: every problem in every file, each at its line.

import { loadScenarioFile } from '../scenario/load.js';
import { ScenarioError, formatProblem } from '../scenario/problems.js';
import { EXIT } from './exit-codes.js';
import { plural } from '../words.js';

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

export async function validateCommand(files: string[], output: Output): Promise<number> {
  let exitCode: number = EXIT.ok;
  for (const file of files) {
    try {
      const { scenario, warnings } = await loadScenarioFile(file);
      for (const warning of warnings) output.err(formatProblem(warning));
      output.out(
        `ok ${scenario.name} (${plural(scenario.services.length, 'service')}, ${plural(scenario.traffic.length, 'flow')}, ` +
          `${plural(scenario.timeline.length, 'event')})`,
      );
    } catch (error) {
      if (!(error instanceof ScenarioError)) throw error;
      for (const problem of error.problems) output.err(formatProblem(problem));
      const count = error.problems.filter((p) => p.severity === 'error').length;
      output.err(`${file}: ${plural(count, 'problem')}`);
      exitCode = EXIT.badInput;
    }
  }
  return exitCode;
}

