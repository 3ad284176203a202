/**
 * What `mxkit local` prints about delivery as it happens, from the relay's JSON log: each deferral
 * and bounce with its reason, when the next try is, DSNs and failed-list entries. Mail to a domain
 * the local DNS does not know is deferred for days (that is what a real MTA does with a DNS
 * failure); the terminal says so at once, and how to look at the queue or drop the message.
 */
export interface RelayLogLine {
  msg?: unknown;
  queueId?: unknown;
  to?: unknown;
  reason?: unknown;
  status?: unknown;
  detail?: unknown;
  nextAttemptAt?: unknown;
  pending?: unknown;
  dsnId?: unknown;
  action?: unknown;
}

export interface NewsContext {
  /** How to run the CLI here, e.g. `node dist/mxkit.js`. */
  cli: string;
  /** The relay config the queue commands take. */
  configPath: string;
  /** The domains the local DNS answers for; mail anywhere else cannot be delivered here. */
  knownDomains: readonly string[];
}

const text = (value: unknown, max = 300): string => {
  // eslint-disable-next-line no-control-regex -- remote replies may carry CR/LF: one terminal line each
  const flat = String(value ?? '').replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
};

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

function inMinutes(iso: string, now: number): string {
  const minutes = Math.max(0, Math.round((Date.parse(iso) - now) / 60_000));
  return minutes < 1 ? 'in under a minute' : minutes < 120 ? `in ${minutes} min` : `in ${Math.round(minutes / 60)} h`;
}

export function deliveryNews(line: RelayLogLine, context: NewsContext, now = Date.now()): string[] {
  const id = text(line.queueId);
  const to = text(line.to);
  const queue = `${context.cli} queue list --config ${context.configPath}`;
  switch (line.msg) {
    case 'deferred': {
      const lines = [`relay: ${id} to <${to}> deferred: ${text(line.reason)} ${text(line.status)} ${text(line.detail)}`.trimEnd()];
      const domain = domainOf(to);
      if (!context.knownDomains.some((known) => domain === known || domain.endsWith(`.${known}`))) {
        lines.push(
          `       ${domain} is not a domain the local DNS knows (${context.knownDomains.join(', ')}): nothing outside them can be delivered here.`,
          `       A real relay keeps retrying such mail until delivery.maxQueueTime (5 days), then bounces it. See: ${queue}; drop it: ${context.cli} queue remove ${id} --config ${context.configPath}`,
        );
      }
      return lines;
    }
    case 'next attempt scheduled': {
      const pending = Array.isArray(line.pending) ? line.pending.map((address) => `<${text(address)}>`).join(', ') : '';
      const at = text(line.nextAttemptAt);
      return [`relay: ${id} waits in the queue for ${pending}; next try at ${at.replace(/\.\d+Z$/, 'Z')} (${inMinutes(at, now)}). See: ${queue}`];
    }
    case 'bounced':
      return [`relay: ${id} to <${to}> bounced: ${text(line.reason)} ${text(line.status)} ${text(line.detail)}`.trimEnd()];
    case 'DSN queued':
      return [`relay: a delivery status notification (${text(line.action)}) about it goes to <${to}> as ${text(line.dsnId)}`];
    default:
      if (typeof line.msg === 'string' && line.msg.includes('kept in the failed list')) {
        return [`relay: ${id} ended without delivery and without a bounce (the sender could not be verified): kept in the failed list. See: ${queue} --failed`];
      }
      return [];
  }
}
