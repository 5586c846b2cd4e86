// Exit codes, the same for every command, so scripts and CI can rely on them.

export const EXIT = {
  ok: 0,
  /** A scenario's checks failed (`run`). */
  checksFailed: 1,
  /** Bad input: a scenario with problems, a bad option, a runtime that cannot start. */
  badInput: 2,
  /** Something inside mesh-sim failed that is not the user's doing. */
  internal: 70,
  /** Interrupted by Ctrl-C (128 + SIGINT), after cleaning up. */
  interrupted: 130,
} as const;

/** An error whose message is for the user as it stands, with the exit code to leave by. */
export class UserError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT.badInput) {
    super(message);
    this.name = 'UserError';
  }
}
