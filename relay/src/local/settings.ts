/**
 * The fixed facts of `mxkit local`: the three loopback "internet" domains, their hosts, and the
 * default ports. Everything the printed instructions, the DNS zones, the relay config and the
 * inbox agree on lives here, so they cannot drift apart.
 */

/** The domain this deployment sends and receives for: what a real stack's `mxkit:domain` is. */
export const MAIL_DOMAIN = 'example.test';
export const MAIL_HOSTNAME = `mail.${MAIL_DOMAIN}`;
/** The relay's public address. Loopback stands in for the Elastic IP. */
export const MAIL_IP = '127.0.0.1';
/** The infra's default selector (infra/config.ts), so local keys look like a real stack's. */
export const DKIM_SELECTOR = 'mx1';
/** Records claim an MTA-STS policy like a real stack with ACME does; testing mode never blocks mail. */
export const MTA_STS = { mode: 'testing', maxAge: '1d' } as const;

/** Someone else's mail provider on "the internet": receives, verifies and shows what arrived. */
export const INBOX_DOMAIN = 'inbox.test';
export const INBOX_HOSTNAME = `mx.${INBOX_DOMAIN}`;
/** A second loopback address, so the inbox is a different host from the relay, as on the internet. */
export const INBOX_IP = '127.0.0.2';

/** A third party that writes to postmaster@example.test, to show inbound forwarding (SRS, ARC). */
export const SENDER_DOMAIN = 'sender.test';
export const SENDER_HOSTNAME = `mail.${SENDER_DOMAIN}`;
export const SENDER_IP = '127.0.0.3';
export const SENDER_DKIM_SELECTOR = 's1';

export const DEMO_USERNAME = 'demo';
export const DEMO_ADDRESS = `${DEMO_USERNAME}@${MAIL_DOMAIN}`;
/** Where postmaster mail is forwarded: a mailbox at the inbox, so forwarding is visible on its page. */
export const POSTMASTER = `postmaster@${MAIL_DOMAIN}`;
export const INBOX_RECIPIENT = `someone@${INBOX_DOMAIN}`;
export const POSTMASTER_FORWARD = INBOX_RECIPIENT;

export const DEFAULT_STATE_DIR = '.mxkit-local';

export interface LocalPorts {
  dns: number;
  mx: number;
  submission: number;
  submissions: number;
  /** The relay's /healthz /readyz /metrics. */
  relayHttp: number;
  /** Reserved for the relay's MTA-STS policy server (listen.https). */
  https: number;
  /** The inbox MTA on INBOX_IP: the local internet's "port 25", so also delivery.port. */
  inboxSmtp: number;
  inboxPage: number;
  /** rspamd's scan worker, when Debian's rspamd is installed (not 11333: a system rspamd may hold that). */
  rspamd: number;
}

/**
 * Documented defaults: unprivileged, and 25xx where a real one is 25/465/587 so they are easy to
 * remember. The relay's MX and the inbox share 2525 on different addresses, the way every MX on
 * the internet listens on 25.
 */
export const DEFAULT_PORTS: LocalPorts = {
  dns: 2553,
  mx: 2525,
  submission: 2587,
  submissions: 2465,
  relayHttp: 2581,
  https: 2443,
  inboxSmtp: 2525,
  inboxPage: 2580,
  rspamd: 2533,
};

/** `--ports auto`: every listener binds port 0 and reports what the kernel gave it. */
export const AUTO_PORTS: LocalPorts = {
  dns: 0,
  mx: 0,
  submission: 0,
  submissions: 0,
  relayHttp: 0,
  https: 0,
  inboxSmtp: 0,
  inboxPage: 0,
  rspamd: 0,
};

/** The relay's spam thresholds locally: a real stack's defaults (mxkit:spam = reject). */
export const LOCAL_SPAM = { flagScore: 6, rejectScore: 15 } as const;
