import { EventEmitter } from 'node:events';
import { abortOnInterrupt, INTERRUPTED_EXIT_CODE } from '../../infra/deploy-test/interrupt';

class FakeProcess extends EventEmitter {
  exitCode: number | undefined;
  exit(code: number): never {
    this.exitCode = code;
    return undefined as never;
  }
}

describe('Ctrl-C during deploy:test', () => {
  test('the first one aborts the running step and keeps the process alive for the cleanup', () => {
    const target = new FakeProcess();
    const lines: string[] = [];
    const signal = abortOnInterrupt(target, 'test-alice', (line) => lines.push(line));
    target.emit('SIGINT', 'SIGINT');
    expect(signal.aborted).toBe(true);
    expect(target.exitCode).toBeUndefined();
    expect(lines).toEqual(['SIGINT: stopping, then destroying test-alice (press Ctrl-C again to stop at once and leave it behind)']);
  });

  test('a second one exits at once, saying what may remain', () => {
    const target = new FakeProcess();
    const lines: string[] = [];
    abortOnInterrupt(target, 'test-alice', (line) => lines.push(line));
    target.emit('SIGTERM', 'SIGTERM');
    target.emit('SIGINT', 'SIGINT');
    expect(target.exitCode).toBe(INTERRUPTED_EXIT_CODE);
    expect(lines.at(-1)).toContain('test-alice may remain: run `pulumi destroy --stack test-alice && pulumi stack rm test-alice`');
  });
});
