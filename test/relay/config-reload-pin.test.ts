/** What a SIGHUP may change at once, and what waits for a restart (relay/src/config/reload.ts). */
import { pinRestartOnly } from '../../relay/src/config/reload';
import { parseRelayConfig, type RelayConfigInput } from '../../relay/src/config/schema';

const base: RelayConfigInput = { hostname: 'mail.example.com', domains: ['example.com'], listen: {}, spoolDir: '/var/spool/mxkit' };

describe('pinning restart-only settings on reload', () => {
  it('applies a new route and keeps the running SRS key file, saying a restart is needed', () => {
    const running = parseRelayConfig({ ...base, forwarding: { srsSecretFile: '/run/mxkit/srs.secret' } });
    const next = parseRelayConfig({ ...base, forwarding: { rewriteFrom: 'always', srsSecretFile: '/run/mxkit/other.secret' }, routes: [{ match: 'a@example.com', forward: ['b@example.net'] }] });
    const pinned = pinRestartOnly(running, next);
    expect(pinned.needsRestart).toEqual(['forwarding.srsSecretFile']);
    expect(pinned.config.forwarding).toEqual({ rewriteFrom: 'always', srsSecretFile: '/run/mxkit/srs.secret' });
    expect(pinned.config.routes).toEqual(next.routes);
  });

  it('keeps a relay that started without a shared SRS key on its spool key until it restarts', () => {
    const running = parseRelayConfig(base);
    const pinned = pinRestartOnly(running, parseRelayConfig({ ...base, forwarding: { srsSecretFile: '/run/mxkit/srs.secret' } }));
    expect(pinned.needsRestart).toEqual(['forwarding.srsSecretFile']);
    expect(pinned.config.forwarding).toEqual({ rewriteFrom: 'auto' });
  });

  it('needs no restart when only users, routes and limits change', () => {
    const running = parseRelayConfig({ ...base, forwarding: { srsSecretFile: '/run/mxkit/srs.secret' } });
    const next = parseRelayConfig({ ...base, forwarding: { srsSecretFile: '/run/mxkit/srs.secret' }, limits: { maxRecipients: 10 } });
    expect(pinRestartOnly(running, next)).toEqual({ config: next, needsRestart: [] });
  });
});
