/**
 * Ctrl-C during `npm run deploy:test`: without a handler Node exits at once and the cleanup in the
 * orchestration's `finally` never runs, leaving a test deployment (and its bill) behind. The first
 * SIGINT/SIGTERM aborts what runs (the Pulumi CLI cancels cleanly) so the stack is destroyed; a
 * second one stops immediately, saying what may remain.
 */
export interface InterruptTarget {
  on(event: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): never;
}

/** 128 + SIGINT (2): what shells report for a run stopped with Ctrl-C. */
export const INTERRUPTED_EXIT_CODE = 130;

export function abortOnInterrupt(target: InterruptTarget, stackName: string, log: (line: string) => void): AbortSignal {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      log(`${signal}: stopping, then destroying ${stackName} (press Ctrl-C again to stop at once and leave it behind)`);
      controller.abort();
      return;
    }
    log(`${signal} again: stopped; ${stackName} may remain: run \`pulumi destroy --stack ${stackName} && pulumi stack rm ${stackName}\``);
    target.exit(INTERRUPTED_EXIT_CODE);
  };
  target.on('SIGINT', onSignal);
  target.on('SIGTERM', onSignal);
  return controller.signal;
}
