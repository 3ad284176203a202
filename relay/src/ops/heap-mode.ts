/**
 * How the relay process sizes V8's heap, measured by `npm run bench` (docs/benchmarks.md, issue 17).
 *
 * Left to itself V8 grows the main thread's young generation to 16 MiB semi-spaces under the
 * bench's load, and the relay peaks at ~145-150 MiB (PSS), over issue 17's memory goal. Two ways
 * keep it under:
 * - the young generation bounded on the node command line (`--max-semi-space-size`: V8 sizes it
 *   when the heap is set up, so it cannot be changed later) and the old generation collected
 *   sooner (`--heap-growing-percent`, read by the collector each time it decides): ~102 MiB at
 *   2.3-2.4 ms of CPU per message (round 5);
 * - `--optimize-for-size`, which can be set at run time: ~97-104 MiB but 2.5-2.6 ms, because its
 *   reduce-memory collections drop maps that optimised code embeds, and TurboFan compiles that code
 *   again (round 4: 8% of the relay's CPU).
 * So everything that starts the relay (the Docker image's ENTRYPOINT, the host's `docker run`,
 * `npm run local`, the bench) puts RELAY_NODE_OPTIONS on the node command line, and a relay started
 * without them (`node mxkit.js relay` by hand) falls back to `--optimize-for-size`.
 */

/** The node command-line options that go before the bundle's path wherever the relay is started. */
export const RELAY_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=4'];

/** Set at run time when RELAY_NODE_OPTIONS bound the young generation. */
const WITH_BOUNDED_YOUNG_GENERATION = '--heap-growing-percent=10';
/** Set at run time when they did not. */
const WITHOUT_BOUNDED_YOUNG_GENERATION = '--optimize-for-size';

export interface RelayHeapMode {
  /** What the log says. */
  name: 'bounded-young-generation' | 'optimize-for-size';
  /** For v8.setFlagsFromString. */
  runtimeFlags: string;
}

/**
 * The heap mode of a process started with `execArgv` and the environment's NODE_OPTIONS (Node
 * accepts `--max-semi-space-size` in either): the young generation counts as bounded when any
 * `--max-semi-space-size` was given, whatever its value.
 */
export function relayHeapMode(execArgv: readonly string[], nodeOptions: string | undefined): RelayHeapMode {
  const options = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)];
  const bounded = options.some((option) => /^--max[-_]semi[-_]space[-_]size(=|$)/.test(option));
  return bounded
    ? { name: 'bounded-young-generation', runtimeFlags: WITH_BOUNDED_YOUNG_GENERATION }
    : { name: 'optimize-for-size', runtimeFlags: WITHOUT_BOUNDED_YOUNG_GENERATION };
}
