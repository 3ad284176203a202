import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { trackedStackNames } from '../../infra/deploy-test/pulumi-workspace';
import { parseDeployTestArgs } from '../../infra/deploy-test/args';
import { checkOptionsFor } from '../../infra/deploy-test/check-options';

describe('deploy:test arguments', () => {
  test('--name X becomes stack test-X from the test-example template, cleaned up, 20 check attempts 30 s apart', () => {
    const args = parseDeployTestArgs(['--name', 'alice']);
    expect(args.request).toEqual({ stackName: 'test-alice', template: 'test-example', overrides: {}, keep: false, checkAttempts: 20 });
    expect(args.checkIntervalSeconds).toBe(30);
  });

  test('an already prefixed name is taken as is, and --keep is a flag', () => {
    expect(parseDeployTestArgs(['--name', 'test-bob', '--keep']).request).toMatchObject({ stackName: 'test-bob', keep: true });
  });

  test('--config and --secret repeat and become stack config, secrets marked secret', () => {
    const args = parseDeployTestArgs(['--name', 'a', '--config', 'mxkit:domain=t1.example.com', '--secret', 'cloudflare:apiToken=abc=def', '--config', 'aws:region=eu-west-1']);
    expect(args.request.overrides).toEqual({
      'mxkit:domain': { value: 't1.example.com', secret: false },
      'cloudflare:apiToken': { value: 'abc=def', secret: true },
      'aws:region': { value: 'eu-west-1', secret: false },
    });
  });

  test.each([
    [[], '--name is required'],
    [['--name', 'bad name'], '--name "bad name" must be letters, digits and dashes'],
    [['--name', 'a', '--config', 'novalue'], '--config takes KEY=VALUE'],
    [['--name', 'a', '--check-attempts', '0'], '--check-attempts must be a positive whole number'],
    [['--name', 'a', '--destroy-prod'], 'unknown option --destroy-prod'],
  ])('%j is refused: %s', (argv, message) => {
    expect(() => parseDeployTestArgs(argv)).toThrow(message);
  });
});

describe('deploy:test check options from the stack', () => {
  const outputs = { hostname: 'mail.t1.example.com', publicIp: '203.0.113.10', dkimSelector: 'mx2' };

  test('the domain comes from config, host and selector from the outputs; real ports; SSH must be closed', () => {
    const options = checkOptionsFor(outputs, { 'mxkit:domain': { value: 't1.example.com' } });
    expect(options).toMatchObject({ domain: 't1.example.com', host: 'mail.t1.example.com', selector: 'mx2', ports: { smtp: 25, submission: 587, submissions: 465, https: 443 }, closedPorts: [22] });
  });

  test('with mxkit:sshCidr set, port 22 is open on purpose and not flagged', () => {
    expect(checkOptionsFor(outputs, { 'mxkit:domain': { value: 't1.example.com' }, 'mxkit:sshCidr': { value: '198.51.100.7/32' } }).closedPorts).toEqual([]);
  });

  test('a stack without mxkit:domain or without outputs is an error naming what is missing', () => {
    expect(() => checkOptionsFor(outputs, {})).toThrow('the test stack has no mxkit:domain');
    expect(() => checkOptionsFor({}, { 'mxkit:domain': { value: 't1.example.com' } })).toThrow('no "hostname" output');
  });
});

describe('deploy:test tracked stacks', () => {
  test('are the stack files git tracks in stacks/, the template among them', () => {
    expect(trackedStackNames(path.join(__dirname, '../..'))).toEqual(expect.arrayContaining(['dev', 'prod', 'test-example']));
  });
});

describe('npm run deploy:test', () => {
  test('builds the relay bundle before anything else, so pulumi up never lacks it', () => {
    const scripts = (JSON.parse(readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['deploy:test']).toMatch(/^npm run build && /);
  });
});
