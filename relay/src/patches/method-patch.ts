/**
 * What one run-time patch of another module is, and the check it passes before it is installed
 * (docs/architecture.md "Patches").
 */

export class PatchError extends Error {
  override name = 'PatchError';
}

/** Any method: replacements declare their own `this` and parameters. */
export type AnyMethod = (this: never, ...args: never[]) => unknown;

export interface MethodPatch {
  /** The patched package and its installed version, for the refusal message. */
  module: string;
  version: string;
  /** How the method is named in messages, e.g. `SMTPConnection.prototype.init`. */
  name: string;
  owner: () => Record<string, unknown>;
  method: string;
  /** `Function.length` of the upstream method this patch was written against (or of the one it adds). */
  arity: number;
  /**
   * A method upstream does not have, added: it must not be there yet (an upstream one of the same
   * name would be silently replaced), unless it is the one we installed.
   */
  adds?: true;
  /** The replacement, given the original. */
  replace: (original: AnyMethod) => AnyMethod;
}

/** The replacements installPatches put in place (an added method found later is ours, not upstream's). */
export const installedReplacements = new WeakSet<object>();

/** Why `patch` cannot be installed on `owner`, or undefined when it fits. */
export function patchProblem(patch: MethodPatch, owner: Record<string, unknown> = patch.owner()): string | undefined {
  const method = owner[patch.method];
  if (patch.adds) {
    if (typeof method === 'function' && !installedReplacements.has(method)) return `${patch.module} ${patch.version}: ${patch.name} is already there, the patch was written to add it`;
    return undefined;
  }
  if (typeof method !== 'function') return `${patch.module} ${patch.version}: ${patch.name} is not there`;
  if (method.length !== patch.arity) return `${patch.module} ${patch.version}: ${patch.name} takes ${method.length} parameters, the patch was written for ${patch.arity}`;
  return undefined;
}
