import { appendFileSync, mkdirSync } from 'node:fs';
import { LOG_DIR, STANDIN_LOG } from './paths';

/** One line in the stand-ins' log (the rehearsal prints it) and on stderr (the unit's log). */
export function note(tool: string, line: string): void {
  mkdirSync(LOG_DIR, { recursive: true });
  appendFileSync(STANDIN_LOG, `${tool}: ${line}\n`);
}

export class StandinError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
