/** How the relay process sizes V8's heap (relay/src/ops/heap-mode.ts, docs/benchmarks.md round 5). */
import { RELAY_NODE_OPTIONS, relayHeapMode } from '../../relay/src/ops/heap-mode';
import { startChildRelay } from '../helpers/child-relay';
import { writeRelayFiles } from '../helpers/relay';

describe('the relay heap mode', () => {
  test.each([
    { case: 'the node options every start uses', execArgv: [...RELAY_NODE_OPTIONS], nodeOptions: undefined, mode: 'bounded-young-generation', flags: '--heap-growing-percent=10' },
    { case: 'the option with its value apart', execArgv: ['--max-semi-space-size', '8'], nodeOptions: undefined, mode: 'bounded-young-generation', flags: '--heap-growing-percent=10' },
    { case: 'the option in NODE_OPTIONS', execArgv: [], nodeOptions: '--enable-source-maps  --max_semi_space_size=2', mode: 'bounded-young-generation', flags: '--heap-growing-percent=10' },
    { case: 'no option (node mxkit.js relay by hand)', execArgv: [], nodeOptions: undefined, mode: 'optimize-for-size', flags: '--optimize-for-size' },
    { case: 'an option that only looks alike', execArgv: ['--max-semi-space-size-typo=4', '--min-semi-space-size=4'], nodeOptions: '', mode: 'optimize-for-size', flags: '--optimize-for-size' },
  ])('is $mode with $case', ({ execArgv, nodeOptions, mode, flags }) => {
    expect(relayHeapMode(execArgv, nodeOptions)).toEqual({ name: mode, runtimeFlags: flags });
  });

  test.each([
    { started: 'with the node options every start uses', options: RELAY_NODE_OPTIONS, mode: 'bounded-young-generation' },
    { started: 'by hand without them', options: [], mode: 'optimize-for-size' },
  ])('is reported when the relay is ready, started $started', async ({ options, mode }) => {
    const files = await writeRelayFiles((config) => {
      config.listen = { submissions: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 } };
    });
    const relay = await startChildRelay(files.configPath, [], options);
    try {
      const ready = relay.output().split('\n').find((line) => line.includes('"relay ready"'));
      expect(JSON.parse(ready ?? '{}')).toMatchObject({ heapMode: mode });
    } finally {
      relay.process.kill('SIGTERM');
      await relay.exited;
    }
  });
});
