/** Paths as the terminal shows them, for the banner and the delivery news (commands stay short). */
import { isAbsolute, relative } from 'node:path';

/** A path as the terminal shows it: relative when inside the working directory. */
export function shown(path: string): string {
  const inside = relative(process.cwd(), path);
  return inside && !inside.startsWith('..') && !isAbsolute(inside) ? inside : path;
}
