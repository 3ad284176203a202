/**
 * The whole program on the prod stack with a Spamhaus DQS zone in mxkit:dnsbl (and mxkit:spam at
 * its default, reject): rspamd runs beside the relay, the relay asks the zone, and the DQS key
 * reaches only the relay's config in SSM, never the user data or a plain output.
 */
import { parseRelayConfig } from '../../relay/src/config/schema';
import { parameter, userDataOf } from './helpers/invariants';
import { runProgram, type ProgramRun } from './helpers/stack';

const KEY = 'dqskey0123456789abcdefghij';
let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram('prod', { 'mxkit:dnsbl': JSON.stringify([`${KEY}.zen.dq.spamhaus.net`]) });
});

describe('the program with spam filtering (mxkit:spam reject, a DQS zone)', () => {
  test('configures the relay to scan with the rspamd beside it and to refuse clients on the list', () => {
    const config = parseRelayConfig(JSON.parse(String(parameter(run, 'relay.json')?.plain.value)));
    expect(config.spam.rspamd).toEqual({ url: 'http://127.0.0.1:11333', flagScore: 6, rejectScore: 15, timeout: '10s', onError: 'accept' });
    expect(config.spam.dnsbl).toEqual([{ zone: `${KEY}.zen.dq.spamhaus.net`, action: 'reject' }]);
  });

  test('starts rspamd with the relay on the host', () => {
    const userData = userDataOf(run);
    expect(userData).toContain('/etc/systemd/system/mxkit-rspamd.service');
    expect(userData).toMatch(/rspamd\/rspamd:[\d.]+@sha256:[a-f0-9]{64}/);
  });

  test('keeps the DQS key out of the user data and the plain relayConfig output', () => {
    expect(userDataOf(run)).not.toContain(KEY);
    const output = run.outputs.relayConfig;
    expect(output.secret).toBe(false);
    expect(JSON.stringify(output.value)).not.toContain(KEY);
    expect(JSON.stringify(output.value)).toContain('(secret).zen.dq.spamhaus.net');
  });
});
