/**
 * Config changes reach the running relay without a new instance: the whole program under mocks
 * with two different user lists, and the reload script run with stand-ins for systemctl, docker
 * and curl (the relay's metrics).
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { RELOAD_SCRIPT_PATH, reloadDocument, reloadScript } from '../../infra/components/config-reload';
import { one, runProgram, TEST_HASH, type ProgramRun } from './helpers/stack';
import { userDataOf } from './helpers/invariants';
import { run } from '../helpers/run';

const users = (name: string) => JSON.stringify([{ username: name, passwordHash: TEST_HASH, allowedFrom: ['*@dev.example.com'] }]);

describe('the config push on the dev stack', () => {
  let before: ProgramRun;
  beforeAll(async () => {
    before = await runProgram('dev', { 'mxkit:users': users('app') });
  });

  const revisionOf = (program: ProgramRun) => (one(program, 'aws:ssm/association:Association').plain.parameters as { revision: string }).revision;

  it('runs a command document that waits for cloud-init and runs the reload script on the instance, waiting for success', () => {
    const association = one(before, 'aws:ssm/association:Association').plain;
    expect(association).toMatchObject({
      targets: [{ key: 'InstanceIds', values: [expect.stringMatching(/^.+$/)] }],
      applyOnlyAtCronInterval: false,
      waitForSuccessTimeoutSeconds: 1800,
    });
    const document = one(before, 'aws:ssm/document:Document').plain;
    expect(document).toMatchObject({ documentType: 'Command', documentFormat: 'JSON' });
    const content = JSON.parse(String(document.content)) as { mainSteps: Array<{ inputs: { runCommand: string[] } }> };
    expect(content.mainSteps[0].inputs.runCommand.join('\n')).toContain(`${RELOAD_SCRIPT_PATH} '{{ revision }}'`);
    expect(userDataOf(before)).toContain(`- path: ${RELOAD_SCRIPT_PATH}\n    permissions: '0755'`);
  });

  it('lets the instance role take part in State Manager, and nothing more', () => {
    const policy = JSON.parse(String(one(before, 'aws:iam/rolePolicy:RolePolicy').plain.policy)) as { Statement: Array<{ Sid: string; Action: string[] }> };
    const stateManager = policy.Statement.find((statement) => statement.Sid === 'StateManager');
    expect(stateManager?.Action).toEqual(expect.arrayContaining(['ssm:ListInstanceAssociations', 'ssm:UpdateInstanceAssociationStatus', 'ec2messages:GetMessages']));
    expect(stateManager?.Action.some((action) => /^ssm:(GetParameter|SendCommand|\*)/.test(action))).toBe(false);
  });

  it('keeps the document parameter to characters the shell cannot misread', () => {
    const parameters = (JSON.parse(reloadDocument()) as { parameters: { revision: { allowedPattern: string } } }).parameters;
    expect(new RegExp(parameters.revision.allowedPattern).test(revisionOf(before))).toBe(true);
    expect(new RegExp(parameters.revision.allowedPattern).test("x'; reboot")).toBe(false);
  });
});

describe('the reload script on the host', () => {
  let dir: string;
  const config = () => join(dir, 'relay.json');
  const sha12 = () => createHash('sha256').update(readFileSync(config())).digest('hex').slice(0, 12);

  /** Stand-ins: `systemctl is-active` answers per `active`; every call is recorded; curl prints the metrics file. */
  function world(active: boolean): { script: string; env: NodeJS.ProcessEnv } {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const write = (name: string, text: string) => {
      writeFileSync(join(bin, name), `#!/bin/bash\n${text}\n`);
      chmodSync(join(bin, name), 0o755);
    };
    write('systemctl', `echo "systemctl $*" >> ${dir}/calls; [ "$1" = is-active ] && exit ${active ? 0 : 3}; exit 0`);
    write('docker', `echo "docker $*" >> ${dir}/calls`);
    // The first read (before the SIGHUP) sees metrics.before, every later one the relay's answer.
    write('curl', `if [ -e ${dir}/asked ]; then cat ${dir}/metrics; else touch ${dir}/asked; cat ${dir}/metrics.before; fi`);
    write('prepare', `echo '{"hostname":"mail.example.com"}' > ${config()}; echo prepare >> ${dir}/calls`);
    const script = join(dir, 'mxkit-reload');
    writeFileSync(script, reloadScript({ prepareScript: join(bin, 'prepare'), configFile: config(), metricsUrl: 'http://127.0.0.1:8025/metrics' }));
    chmodSync(script, 0o755);
    return { script, env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` } };
  }

  async function reload(active: boolean, metrics: (expected: string) => string) {
    const { script, env } = world(active);
    // What the stand-in prepare writes, so the relay's metrics can name its revision.
    writeFileSync(config(), '{"hostname":"mail.example.com"}\n');
    writeFileSync(join(dir, 'metrics.before'), 'mxkit_config_reloads_total{result="refused"} 1\nmxkit_config_last_reload_successful 0\nmxkit_config_info{revision="0123456789ab"} 1\n');
    writeFileSync(join(dir, 'metrics'), metrics(sha12()));
    const result = await run(script, ['abc123'], '', env);
    let calls: string[] = [];
    try {
      calls = readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n');
    } catch {
      calls = [];
    }
    return { ...result, calls };
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mxkit-reload-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('fetches the parameters, sends the relay SIGHUP and succeeds once the relay reports the new revision', async () => {
    const result = await reload(true, (expected) => `mxkit_config_reloads_total{result="refused"} 1\nmxkit_config_reloads_total{result="applied"} 1\nmxkit_config_last_reload_successful 1\nmxkit_config_info{revision="${expected}"} 1\nmxkit_config_restart_needed 0\n`);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.calls).toEqual(['prepare', 'systemctl is-active --quiet mxkit-relay.service', 'docker kill --signal HUP mxkit-relay']);
    expect(result.stdout).toContain('the relay runs config revision abc123');
  });

  it('fails (and so does pulumi up) when the relay refuses the new config', async () => {
    const result = await reload(true, () => 'mxkit_config_reloads_total{result="refused"} 2\nmxkit_config_last_reload_successful 0\nmxkit_config_info{revision="0123456789ab"} 1\n');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the relay refused config');
  });

  it('waits for the relay to answer this SIGHUP: an earlier refusal shown before it does not fail the push', async () => {
    // metrics.before already says "refused" (a previous push); the answer to ours is "applied".
    const result = await reload(true, (expected) => `mxkit_config_reloads_total{result="refused"} 1\nmxkit_config_reloads_total{result="applied"} 1\nmxkit_config_last_reload_successful 1\nmxkit_config_info{revision="${expected}"} 1\n`);
    expect(result.code).toBe(0);
  });

  it('restarts the service when the new config changes settings only a restart applies', async () => {
    const result = await reload(true, (expected) => `mxkit_config_reloads_total{result="refused"} 1\nmxkit_config_reloads_total{result="applied"} 1\nmxkit_config_info{revision="${expected}"} 1\nmxkit_config_restart_needed 1\n`);
    expect(result.code).toBe(0);
    expect(result.calls).toContain('systemctl restart mxkit-relay.service');
  });

  it('only fetches when the relay is not running yet (a booting instance)', async () => {
    const result = await reload(false, () => '');
    expect(result.code).toBe(0);
    expect(result.calls).toEqual(['prepare', 'systemctl is-active --quiet mxkit-relay.service']);
  });
});
