/**
 * The one command-line contract (docs/contracts.md "The command line"), for every command the
 * bundle has: -h/--help prints its usage and exits 0; an unknown option is refused with exit 64
 * and the usage on stderr; a command with subcommands given none prints its usage (exit 64); a
 * runtime failure is one line on stderr and exit 1. Runs the built bundle (`npm run build`).
 */
import { COMMANDS } from '../../relay/src/commands/registry';
import { version } from '../../package.json';
import { BUNDLE } from '../helpers/child-relay';
import { run } from '../helpers/run';

const mxkit = (...args: string[]) => run(process.execPath, [BUNDLE, ...args]);
const names = COMMANDS.map((command) => command.name);

describe('every mxkit command', () => {
  test('the registry holds the commands of the contract (a new command is added here too)', () => {
    expect(names).toEqual(['relay', 'local', 'hash-password', 'queue', 'records', 'trace', 'suppress', 'reports', 'check', 'client-settings', 'code-cache']);
  });

  test.each(names)('%s --help and -h print its usage on stdout and exit 0', async (name) => {
    for (const flag of ['--help', '-h']) {
      const result = await mxkit(name, flag);
      expect({ flag, code: result.code, stderr: result.stderr }).toEqual({ flag, code: 0, stderr: '' });
      expect(result.stdout).toMatch(new RegExp(`^usage: mxkit ${name}\\b`));
    }
  });

  test.each(names)('%s refuses an unknown option with exit 64, naming it, usage on stderr', async (name) => {
    const result = await mxkit(name, '--no-such-option', 'x');
    expect(result.code).toBe(64);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^mxkit ${name}: unknown option --no-such-option\\nusage: mxkit ${name}\\b`));
  });
});

describe('the mxkit command line', () => {
  test('check --smtp-prot 2525 (a typo) is refused, not ignored for the default port 25', async () => {
    const result = await mxkit('check', '--domain', 'example.test', '--smtp-prot', '2525');
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/^mxkit check: unknown option --smtp-prot\n/);
  });

  test.each([['queue'], ['suppress']])('%s without its subcommand prints its usage and exits 64', async (name) => {
    const result = await mxkit(name, '--config', '/nonexistent/relay.json');
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(new RegExp(`^mxkit ${name}: needs one of: .*\\nusage: mxkit ${name} `));
  });

  test('an unknown subcommand is a usage error', async () => {
    const result = await mxkit('queue', 'flush', '--config', '/nonexistent/relay.json');
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/^mxkit queue: unknown subcommand "flush"/);
  });

  test('an option without its value is a usage error naming the option', async () => {
    const result = await mxkit('queue', 'list', '--config');
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/^mxkit queue: --config needs a value\n/);
  });

  test('a flag given a value is a usage error', async () => {
    const result = await mxkit('queue', 'list', '--json=yes', '--config', '/nonexistent/relay.json');
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/^mxkit queue: --json takes no value\n/);
  });

  test('a runtime failure is one line on stderr and exit 1', async () => {
    const result = await mxkit('queue', 'list', '--config', '/nonexistent/relay.json');
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'mxkit: config error: --config: cannot read /nonexistent/relay.json: ENOENT\n' });
  });

  test('--version prints the package version', async () => {
    expect(await mxkit('--version')).toEqual({ code: 0, stdout: `mxkit ${version}\n`, stderr: '' });
  });

  test('--help lists every command and exits 0', async () => {
    const result = await mxkit('--help');
    expect(result.code).toBe(0);
    for (const name of names) expect(result.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
  });

  test('no command, or an unknown one, is a usage error with the command list on stderr', async () => {
    for (const args of [[], ['frobnicate']]) {
      const result = await mxkit(...args);
      expect({ args, code: result.code, stdout: result.stdout }).toEqual({ args, code: 64, stdout: '' });
      expect(result.stderr).toMatch(/^mxkit: (no command given|unknown command "frobnicate")\nusage: mxkit <command>/);
    }
  });
});
