/**
 * The MTA-STS policy (RFC 8461 §3.3) served on listen.https with the certificate the relay got from
 * pebble, the way a sending MTA fetches it; and the plain-HTTP challenge listener answering
 * nothing but challenges.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as acme from 'acme-client';
import { parsePolicy, validateMx } from 'mailauth/lib/mta-sts';
import { accountThumbprint } from '../../../relay/src/tls/http-servers';
import { buildMailRecords, mtaStsId, mtaStsPolicy } from '../../../infra/builders/records';
import { HOSTNAME, type TestRelay } from '../../helpers/relay';
import { createAcmeWorld, httpGet, httpsGet, httpsPort, logLine, MTA_STS_HOST, startAcmeRelay, type AcmeWorld } from './world';

const POLICY_PATH = '/.well-known/mta-sts.txt';

let world: AcmeWorld;
let relay: TestRelay;
let root: string;
let issuedSerial: string;

beforeAll(async () => {
  world = await createAcmeWorld({ pebbleRunning: true });
  root = await world.pebble!.rootCertificate();
  relay = await startAcmeRelay(world);
  issuedSerial = String((await logLine(relay, /TLS certificate obtained/)).serial);
});

afterAll(async () => {
  await relay?.stop();
  await world?.stop();
});

describe('the MTA-STS policy on listen.https', () => {
  it('is served at https://mta-sts.<domain>/.well-known/mta-sts.txt with the issued certificate, and mailauth parses it as a valid enforce policy for the hostname', async () => {
    const answer = await httpsGet(httpsPort(relay), MTA_STS_HOST, POLICY_PATH, root);
    expect(answer.status).toBe(200);
    expect(answer.serial).toBe(issuedSerial);
    expect(answer.contentType).toBe('text/plain');

    const policy = parsePolicy(answer.body);
    expect(policy).toMatchObject({ version: 'STSv1', mode: 'enforce', mx: [HOSTNAME], maxAge: 7 * 86_400 });
    expect(validateMx(HOSTNAME, policy).valid).toBe(true);
    expect(validateMx('mx.elsewhere.test', policy).valid).toBe(false);
  });

  it('is exactly the text whose hash the published _mta-sts TXT record carries as its id', async () => {
    const answer = await httpsGet(httpsPort(relay), MTA_STS_HOST, POLICY_PATH, root);
    expect(answer.body).toBe(mtaStsPolicy('enforce', [HOSTNAME], '7d'));
    const records = buildMailRecords({ domain: 'example.test', hostname: HOSTNAME, ipv4: '127.0.0.1', mtaSts: { mode: 'enforce', maxAge: '7d' } });
    const txt = records.find((record) => record.name === '_mta-sts.example.test');
    expect(txt?.value).toBe(`v=STSv1; id=${mtaStsId(answer.body)}`);
  });

  it('answers 404 for other paths and for hosts other than mta-sts.<domain>', async () => {
    expect((await httpsGet(httpsPort(relay), MTA_STS_HOST, '/', root)).status).toBe(404);
    expect((await httpsGet(httpsPort(relay), MTA_STS_HOST, '/.well-known/other.txt', root)).status).toBe(404);
    expect((await httpsGet(httpsPort(relay), HOSTNAME, POLICY_PATH, root)).status).toBe(404);
  });
});

describe('the HTTP-01 listener on listen.acmeHttp', () => {
  it('answers 404, never a redirect, to everything but a challenge path', async () => {
    for (const path of ['/', POLICY_PATH, '/.well-known/acme-challenge/', `/.well-known/acme-challenge/${'a'.repeat(129)}`, '/.well-known/acme-challenge/bad.token']) {
      const answer = await httpGet(world.acmeHttpPort, path, MTA_STS_HOST);
      expect({ path, status: answer.status }).toEqual({ path, status: 404 });
    }
  });

  it('answers a token it never saw with that token and the account key thumbprint (RFC 8555 §8.1), so a host sharing the account can be validated here', async () => {
    const token = 'c29tZS1vdGhlci1ob3N0cy10b2tlbi0xMjM0NTY3ODk';
    const answer = await httpGet(world.acmeHttpPort, `/.well-known/acme-challenge/${token}`, MTA_STS_HOST);
    expect(answer.status).toBe(200);
    expect(answer.body).toBe(`${token}.${accountThumbprint(readFileSync(world.accountKeyFile))}`);
  });
});

describe('RFC 7638 thumbprints of account keys', () => {
  it('match the one acme-client puts in the key authorizations it sends', async () => {
    for (const key of [generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey]) {
      const pem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
      const client = new acme.Client({ directoryUrl: 'https://127.0.0.1:9/dir', accountKey: pem });
      const expected = await client.getChallengeKeyAuthorization({ type: 'http-01', token: 'tok', url: 'https://127.0.0.1:9/c', status: 'pending' });
      expect(`tok.${accountThumbprint(pem)}`).toBe(expected);
    }
  });
});
