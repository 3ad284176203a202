/**
 * A systemd unit file, read the way systemd reads the lines mxkit writes (systemd.syntax(7)):
 * `[Section]` headers, `Key=Value` lines, a trailing backslash continues a line, `#`/`;` comments.
 * Command lines are split into words (systemd.service(7) "Command lines": whitespace, quotes) and
 * may start with `-` (a failure is ignored).
 */

export type UnitFile = Map<string, Map<string, string[]>>;

export function parseUnitFile(text: string): UnitFile {
  const unit: UnitFile = new Map();
  let section: Map<string, string[]> | undefined;
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = unit.get(header[1]) ?? new Map<string, string[]>();
      unit.set(header[1], section);
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq < 1) throw new Error(`unit file: cannot read line "${line}"`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim().replace(/\s+/g, ' ');
    section.set(key, [...(section.get(key) ?? []), value]);
  }
  return unit;
}

export function values(unit: UnitFile, section: string, key: string): string[] {
  return unit.get(section)?.get(key) ?? [];
}

/** Space-separated lists (Requires=, After=, WantedBy=), over every line of the key. */
export function listValue(unit: UnitFile, section: string, key: string): string[] {
  return values(unit, section, key).flatMap((value) => value.split(' ').filter(Boolean));
}

export interface Command {
  argv: string[];
  /** `-` prefix: a non-zero exit is not a failure. */
  ignoreFailure: boolean;
}

export function parseCommandLine(line: string): Command {
  let rest = line.trim();
  let ignoreFailure = false;
  while (/^[-@:+!]/.test(rest)) {
    if (rest[0] === '-') ignoreFailure = true;
    else throw new Error(`unit file: the stand-in does not emulate the "${rest[0]}" prefix in "${line}"`);
    rest = rest.slice(1);
  }
  const argv: string[] = [];
  const word = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+))/gy;
  let match: RegExpExecArray | null;
  while ((match = word.exec(rest)) !== null && match[0].trim() !== '') {
    argv.push(match[1]?.replace(/\\(.)/g, '$1') ?? match[2] ?? match[3]);
  }
  if (argv.length === 0 || !argv[0].startsWith('/')) throw new Error(`unit file: a command must start with an absolute path: "${line}"`);
  return { argv, ignoreFailure };
}
