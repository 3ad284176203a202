/**
 * The part of cloud-init the rehearsal plays: a `#cloud-config` document's `packages`,
 * `write_files` and `runcmd` (cloudinit.readthedocs.io/en/latest/reference/modules.html). Keys it
 * does not know are an error, so user data never grows a step the rehearsal silently skips.
 */
import { load } from 'js-yaml';

export interface WriteFile {
  path: string;
  content: string;
  /** Octal text, e.g. '0755'. */
  permissions: string;
}

export interface CloudConfig {
  packages: string[];
  writeFiles: WriteFile[];
  /** What cloud-init runs: one /bin/sh script of all runcmd entries. */
  runcmdScript: string;
}

const KNOWN_KEYS = new Set(['packages', 'write_files', 'runcmd']);
const FILE_KEYS = new Set(['path', 'content', 'permissions']);

/** cloud-init's util.shellify: a list entry is single-quoted word by word, a string is taken as is. */
export function shellify(entries: ReadonlyArray<string | readonly string[]>): string {
  const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;
  const lines = entries.map((entry) => (typeof entry === 'string' ? entry : entry.map(quote).join(' ')));
  return `#!/bin/sh\n${lines.join('\n')}\n`;
}

export function parseCloudConfig(text: string): CloudConfig {
  if (!text.startsWith('#cloud-config\n')) throw new Error('user data is not a #cloud-config document');
  const document = load(text) as Record<string, unknown>;
  for (const key of Object.keys(document)) {
    if (!KNOWN_KEYS.has(key)) throw new Error(`cloud-config key "${key}" is not rehearsed; teach test/rehearsal/cloud-init.ts what it does`);
  }
  const files = (document.write_files ?? []) as Array<Record<string, unknown>>;
  const writeFiles = files.map((file) => {
    for (const key of Object.keys(file)) {
      if (!FILE_KEYS.has(key)) throw new Error(`write_files key "${key}" (${String(file.path)}) is not rehearsed`);
    }
    return { path: String(file.path), content: String(file.content ?? ''), permissions: String(file.permissions ?? '0644') };
  });
  const runcmd = (document.runcmd ?? []) as Array<string | string[]>;
  return { packages: ((document.packages ?? []) as unknown[]).map(String), writeFiles, runcmdScript: shellify(runcmd.map((entry) => (typeof entry === 'string' ? entry : entry.map(String)))) };
}
