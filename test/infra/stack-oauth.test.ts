/** The whole program on the prod stack with mxkit:oauth: the relay config on the host accepts those tokens. */
import { parseRelayConfig } from '../../relay/src/config/schema';
import { parameter } from './helpers/invariants';
import { runProgram, type ProgramRun } from './helpers/stack';

const PROVIDER = { issuer: 'https://login.example.com/tenant/v2.0', jwksUrl: 'https://login.example.com/tenant/discovery/v2.0/keys', audience: 'api://mxkit', usernameClaim: 'upn', allowedFrom: ['self'] };

let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram('prod', { 'mxkit:oauth': JSON.stringify([PROVIDER]) });
});

test('puts mxkit:oauth into the relay config as auth.oauth', () => {
  const config = parseRelayConfig(JSON.parse(String(parameter(run, 'relay.json')?.plain.value)));
  expect(config.auth.oauth).toEqual([PROVIDER]);
});
