import { builtOnFirstUse } from '../../relay/src/config/built-on-first-use';

describe('a value built on first use', () => {
  it('is not built until it is asked for, then built once and the same value is returned every time', () => {
    let builds = 0;
    const value = builtOnFirstUse(() => {
      builds += 1;
      return { built: builds };
    });
    expect(builds).toBe(0);
    const first = value();
    expect(value()).toBe(first);
    expect(builds).toBe(1);
  });

  it('is built again next time when building threw, so a passing failure is not kept', () => {
    let attempts = 0;
    const value = builtOnFirstUse(() => {
      attempts += 1;
      if (attempts === 1) throw new Error('not yet');
      return 'ready';
    });
    expect(() => value()).toThrow('not yet');
    expect(value()).toBe('ready');
  });
});
