/**
 * A value built the first time it is asked for, then kept. For what a module would otherwise build
 * while it loads though the relay may never use it -- the schema of a config section the config
 * does not have, of a report that may never come: everything built at load is paid at every start
 * (docs/architecture.md "What loads at start"). A build that throws is tried again next time.
 */
export function builtOnFirstUse<T>(build: () => T): () => T {
  let built: { value: T } | undefined;
  return () => (built ??= { value: build() }).value;
}
