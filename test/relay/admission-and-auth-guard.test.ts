import { AuthGuard, KNOWN_TTL_MS } from '../../relay/src/intake/auth-guard';
import { ConnectionTracker } from '../../relay/src/intake/connection-tracker';
import { hashPassword } from '../../relay/src/intake/password';
import { PasswordVerifier } from '../../relay/src/intake/password-worker';

describe('connection admission', () => {
  const tracker = () => new ConnectionTracker({ maxConnections: 10, maxConnectionsPerIp: 100, reservedConnections: 2 }, ['mx', 'submission', 'submissions']);

  it('lets one listener fill everything but the slots kept for the others', () => {
    const admissions = tracker();
    const mx = Array.from({ length: 6 }, (_, index) => admissions.tryAdmit('mx', `10.0.0.${index}`));
    expect(mx.every((admission) => admission.ok)).toBe(true);
    expect(admissions.tryAdmit('mx', '10.0.1.1')).toEqual({ ok: false, refusal: 'full' });
    expect(admissions.tryAdmit('submission', '10.0.1.2').ok).toBe(true);
    expect(admissions.tryAdmit('submission', '10.0.1.3').ok).toBe(true);
    expect(admissions.tryAdmit('submissions', '10.0.1.4').ok).toBe(true);
    expect(admissions.tryAdmit('submissions', '10.0.1.5').ok).toBe(true);
    expect(admissions.tryAdmit('submission', '10.0.1.6')).toEqual({ ok: false, refusal: 'full' });
    expect(admissions.underStress('mx')).toBe(true);
    expect(admissions.underStress('submission')).toBe(false);
  });

  it('counts one address across listeners and releases each slot once', () => {
    const admissions = new ConnectionTracker({ maxConnections: 10, maxConnectionsPerIp: 2, reservedConnections: 0 }, ['mx', 'submissions']);
    const first = admissions.tryAdmit('mx', '10.0.0.1');
    expect(admissions.tryAdmit('submissions', '10.0.0.1').ok).toBe(true);
    expect(admissions.tryAdmit('mx', '10.0.0.1')).toEqual({ ok: false, refusal: 'per_ip' });
    if (!first.ok) throw new Error('not admitted');
    first.release();
    first.release();
    expect(admissions.open).toBe(1);
    expect(admissions.tryAdmit('mx', '10.0.0.1').ok).toBe(true);
  });
});

describe('the AUTH guard', () => {
  const options = { perIp: 3, perAccount: 2, total: 4, windowMs: 60_000, failureDelayMs: 0 };

  it('stops checking an account guessed at too often, except from addresses that logged in to it', async () => {
    const guard = new AuthGuard(options);
    guard.recordSuccess('10.0.0.1', 'app', 0);
    await guard.recordFailure('10.9.0.1', 'app', 1);
    await guard.recordFailure('10.9.0.2', 'app', 2);
    expect(guard.gate('10.9.0.3', 'app', 3)).toEqual({ allowed: false, reason: 'per_account' });
    expect(guard.gate('10.0.0.1', 'app', 3)).toEqual({ allowed: true, lane: 'known' });
    expect(guard.gate('10.9.0.3', 'other', 3)).toEqual({ allowed: true, lane: 'unknown' });
    expect(guard.gate('10.9.0.3', 'app', 60_002)).toEqual({ allowed: true, lane: 'unknown' });
  });

  it('stops checking for strangers once failures everywhere pass the total, and forgets logins after a week', async () => {
    const guard = new AuthGuard(options);
    guard.recordSuccess('10.0.0.1', 'app', 0);
    for (let index = 0; index < 4; index++) await guard.recordFailure(`10.9.0.${index}`, `user${index}`, 10);
    expect(guard.gate('10.9.1.1', 'nobody', 11)).toEqual({ allowed: false, reason: 'total' });
    expect(guard.gate('10.0.0.1', 'app', 11)).toEqual({ allowed: true, lane: 'known' });
    expect(guard.gate('10.0.0.1', 'app', KNOWN_TTL_MS + 11).allowed).toBe(true);
    expect(guard.gate('10.0.0.1', 'app', KNOWN_TTL_MS + 11)).toEqual({ allowed: true, lane: 'unknown' });
  });

  it('blocks an address past its own limit', async () => {
    const guard = new AuthGuard(options);
    for (let index = 0; index < 3; index++) await guard.recordFailure('10.9.0.1', `u${index}`, 1);
    expect(guard.gate('10.9.0.1', 'x', 2)).toEqual({ allowed: false, reason: 'per_ip' });
  });
});

describe('the password worker', () => {
  const verifier = new PasswordVerifier(1);
  afterAll(() => verifier.close());

  it('checks passwords off the main thread, known addresses first, and says busy when a lane is full', async () => {
    const hash = await hashPassword('right');
    const order: string[] = [];
    const strangers = [1, 2].map((index) => verifier.verify(`wrong${index}`, hash, 'unknown').then((result) => (order.push(`unknown${index}`), result)));
    expect(await verifier.verify('wrong3', hash, 'unknown')).toBe('busy');
    const known = verifier.verify('right', hash, 'known').then((result) => (order.push('known'), result));
    expect(await Promise.all([...strangers, known])).toEqual([false, false, true]);
    // The first stranger was already running; the known address overtook the second.
    expect(order).toEqual(['unknown1', 'known', 'unknown2']);
    expect(await verifier.verify('anything', undefined, 'unknown')).toBe(false);
  });
});
