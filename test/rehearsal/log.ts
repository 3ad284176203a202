/** What the rehearsal prints: one line per step, with the time since the start. */
// The inner process (in the namespaces) continues the outer one's clock.
const started = Number(process.env.MXKIT_REHEARSAL_STARTED) || Date.now();

const stamp = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;

export function step(title: string): void {
  process.stdout.write(`[rehearse ${stamp()}] ${title}\n`);
}

export function detail(line: string): void {
  process.stdout.write(`                 ${line}\n`);
}

export function elapsedSeconds(): number {
  return (Date.now() - started) / 1000;
}
