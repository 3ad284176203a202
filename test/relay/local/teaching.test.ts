import { deliveryNews } from '../../../relay/src/local/delivery-news';
import { forwardingNote } from '../../../relay/src/local/explain';
import type { StoredMessage } from '../../../relay/src/local/inbox-store';
import { renderInboxPage } from '../../../relay/src/local/inbox-html';

const context = { cli: 'node dist/mxkit.js', configPath: '.mxkit-local/relay.json', knownDomains: ['example.test', 'inbox.test', 'sender.test'] };

describe('delivery news in the mxkit local terminal', () => {
  it('explains a deferral to a domain the local DNS does not know, with the commands to see and drop it', () => {
    const lines = deliveryNews({ msg: 'deferred', queueId: 'Q1', to: 'x@nowhere.invalid', reason: 'dns', status: '4.4.3', detail: 'MX lookup failed' }, context);
    expect(lines[0]).toBe('relay: Q1 to <x@nowhere.invalid> deferred: dns 4.4.3 MX lookup failed');
    expect(lines.join('\n')).toContain('node dist/mxkit.js queue remove Q1 --config .mxkit-local/relay.json');
  });

  it('adds no hint for a known domain, and prints bounces, next tries and DSNs', () => {
    expect(deliveryNews({ msg: 'deferred', queueId: 'Q2', to: 'a@inbox.test', reason: 'remote_4xx', status: '4.2.0', detail: '450 busy' }, context)).toHaveLength(1);
    expect(deliveryNews({ msg: 'bounced', queueId: 'Q3', to: 'a@inbox.test', reason: 'remote_5xx', status: '5.1.1', detail: '550 5.1.1 no such user' }, context)).toEqual([
      'relay: Q3 to <a@inbox.test> bounced: remote_5xx 5.1.1 550 5.1.1 no such user',
    ]);
    const next = deliveryNews({ msg: 'next attempt scheduled', queueId: 'Q4', pending: ['a@inbox.test'], nextAttemptAt: '2030-01-01T00:10:00.000Z' }, context, Date.parse('2030-01-01T00:00:00Z'));
    expect(next).toEqual(['relay: Q4 waits in the queue for <a@inbox.test>; next try at 2030-01-01T00:10:00Z (in 10 min). See: node dist/mxkit.js queue list --config .mxkit-local/relay.json']);
    expect(deliveryNews({ msg: 'DSN queued', queueId: 'Q3', to: 'demo@example.test', dsnId: 'D1', action: 'failed' }, context)).toEqual([
      'relay: a delivery status notification (failed) about it goes to <demo@example.test> as D1',
    ]);
    expect(deliveryNews({ msg: 'delivered', queueId: 'Q5' }, context)).toEqual([]);
  });

  it('keeps a hostile remote reply on one bounded line', () => {
    const [line] = deliveryNews({ msg: 'bounced', queueId: 'Q6', to: 'a@inbox.test', reason: 'remote_5xx', status: '5.0.0', detail: `550 bad\r\nrelay: fake line\u001b[31m${'x'.repeat(1000)}` }, context);
    for (const control of ['\r', '\n', '\u001b']) expect(line).not.toContain(control);
    expect(line.length).toBeLessThan(400);
  });
});

function stored(overrides: Partial<StoredMessage>): StoredMessage {
  return {
    id: 'm1',
    receivedAt: '2030-01-01T00:00:00.000Z',
    envelope: { mailFrom: 'SRS0=ab12=XY=sender.test=alice@example.test', rcptTo: ['someone@inbox.test'] },
    client: { ip: '127.0.0.1', helo: 'mail.example.test', rdns: 'mail.example.test' },
    tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
    from: 'Alice <alice@sender.test>',
    to: 'postmaster@example.test',
    subject: 'hello',
    size: 100,
    verdicts: {
      spf: { result: 'pass', detail: 'example.test' },
      dkim: { result: 'none', detail: 'no signature' },
      dmarc: { result: 'fail', detail: 'sender.test p=none' },
      arc: { result: 'pass', detail: '1 set' },
    },
    ...overrides,
  };
}

describe('notes on the inbox page', () => {
  it('explains dmarc=fail and arc=pass on a message the relay forwarded', () => {
    const note = forwardingNote(stored({}));
    expect(note).toContain('DMARC needs SPF or DKIM aligned with the From domain sender.test');
    expect(note).toContain('SPF now checks the forwarder\'s address at example.test');
    expect(note).toContain('arc=pass is what makes it deliverable');
    expect(renderInboxPage([stored({})], { domain: 'inbox.test', mta: 'mx.inbox.test' })).toContain('<tr class="note" data-note-for="m1"><td colspan="7">Forwarded by the relay');
  });

  it('adds no note to mail that was not forwarded, or that passes DMARC anyway', () => {
    expect(forwardingNote(stored({ envelope: { mailFrom: 'demo@example.test', rcptTo: ['someone@inbox.test'] } }))).toBeUndefined();
    expect(forwardingNote(stored({ verdicts: { ...stored({}).verdicts, dmarc: { result: 'pass', detail: '' } } }))).toBeUndefined();
  });

  it('writes verdict details into the page, escaped, not into a tooltip', () => {
    const page = renderInboxPage([stored({ verdicts: { ...stored({}).verdicts, dkim: { result: 'fail', detail: '<script>x</script> d=sender.test' } } })], { domain: 'inbox.test', mta: 'mx' });
    expect(page).toContain('<div class="detail">&#60;script&#62;x&#60;/script&#62; d=sender.test</div>');
    expect(page).not.toContain('title=');
    expect(page).toContain('mail.example.test [127.0.0.1]');
  });
});
