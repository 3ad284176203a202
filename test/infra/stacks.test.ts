import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { parseStackConfig } from '../../infra/config';
import { loadStackConfig, ROOT, stackNames, withTestSecrets } from './helpers/stack';

describe('stack files', () => {
  test('include dev, prod and an ephemeral test example', () => {
    expect(stackNames()).toEqual(expect.arrayContaining(['dev', 'prod', 'test-example']));
  });

  test.each(stackNames())('stack %s has a program test that runs it under mocks', (stack) => {
    expect(existsSync(path.join(ROOT, 'test', 'infra', `stack-${stack}.test.ts`))).toBe(true);
  });

  test.each(stackNames())('stack %s keeps no encrypted secret and passes config validation', (stack) => {
    const config = parseStackConfig(withTestSecrets(loadStackConfig(stack)));
    expect(config.domain).toMatch(/example\.com$/);
  });

  test('marks dev and test stacks ephemeral and prod protected', () => {
    for (const stack of stackNames()) {
      const ephemeral = parseStackConfig(withTestSecrets(loadStackConfig(stack))).ephemeral;
      expect({ stack, ephemeral }).toEqual({ stack, ephemeral: stack !== 'prod' });
    }
  });
});
