/** The whole program on the dev stack with mxkit:spam off: no rspamd on the host, no content scanning. */
import { parseRelayConfig } from '../../relay/src/config/schema';
import { parameter, userDataOf } from './helpers/invariants';
import { runProgram, type ProgramRun } from './helpers/stack';

let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram('dev', { 'mxkit:spam': 'off' });
});

test('with mxkit:spam off the host runs no rspamd and the relay scans nothing', () => {
  expect(userDataOf(run)).not.toContain('rspamd');
  const config = parseRelayConfig(JSON.parse(String(parameter(run, 'relay.json')?.plain.value)));
  expect(config.spam).toEqual({ dnsbl: [], dnsblTimeout: '3s' });
});
