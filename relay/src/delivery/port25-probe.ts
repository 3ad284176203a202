/**
 * Is outbound port 25 open? Cloud providers block it by default on new accounts (AWS until a
 * request to lift it is approved), and then direct delivery only ever defers. With direct delivery
 * the relay opens a TCP connection to port 25 of a host that always listens there (the MX of a
 * large mailbox provider by default; `delivery.port25Probe`) at start and every `interval`,
 * exports mxkit_outbound_port25_open (1/0), and logs the remedy once per change. Intake is not
 * affected: /readyz does not depend on it.
 */
import { EventEmitter } from 'node:events';
import { connect, isIP } from 'node:net';
import type { Logger } from '../ops/logger';
import type { RelayMetrics } from '../ops/metrics';
import type { DeliveryResolver } from './resolver';

export interface Port25ProbeSettings {
  host: string;
  port: number;
  intervalMs: number;
  /** Per connection attempt (a blocked port drops packets, so this is how long "closed" takes). */
  timeoutMs?: number;
}

export type ProbeState = 'open' | 'closed' | 'unknown';

export const PORT25_REMEDY =
  'outbound port 25 is blocked, so direct delivery cannot reach any mail server: ask your cloud provider to lift the block ' +
  '(AWS: the "Request to remove email sending limitations" form, see docs/deploy.md "First day"), ' +
  'or send through Amazon SES: `pulumi config set mxkit:outbound ses && pulumi up` (queued mail is kept)';

export class Port25Probe {
  readonly events = new EventEmitter();
  private state: ProbeState = 'unknown';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ProbeState> | undefined;
  private stopped = false;

  constructor(
    private readonly settings: Port25ProbeSettings,
    private readonly resolver: DeliveryResolver,
    private readonly metrics: RelayMetrics,
    private readonly logger: Logger,
  ) {}

  get target(): string {
    return `${this.settings.host}:${this.settings.port}`;
  }

  get current(): ProbeState {
    return this.state;
  }

  /** Probes now, then every interval (the timer never keeps the process alive). */
  start(): void {
    const tick = () => {
      void this.probe().finally(() => {
        if (this.stopped) return;
        this.timer = setTimeout(tick, this.settings.intervalMs);
        this.timer.unref();
      });
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** One probe (concurrent callers share it). */
  probe(): Promise<ProbeState> {
    this.running ??= this.probeOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async probeOnce(): Promise<ProbeState> {
    let addresses: string[];
    try {
      addresses = isIP(this.settings.host) ? [this.settings.host] : await this.resolver.addresses(this.settings.host);
    } catch (error) {
      // DNS trouble says nothing about port 25: keep the last known state.
      this.logger.warn({ target: this.target, err: error }, 'port-25 probe: cannot resolve the probe target; state unchanged');
      return this.state;
    }
    if (addresses.length === 0) {
      this.logger.warn({ target: this.target }, 'port-25 probe: the probe target has no address; state unchanged');
      return this.state;
    }
    let failure = '';
    for (const address of addresses.slice(0, 2)) {
      failure = await this.connectOnce(address);
      if (failure === '') return this.record('open', address);
    }
    return this.record('closed', addresses[0], failure);
  }

  /** '' when a TCP connection opened, else why not. */
  private connectOnce(address: string): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect({ host: address, port: this.settings.port });
      const done = (failure: string) => {
        socket.removeAllListeners();
        socket.on('error', () => undefined);
        socket.destroy();
        resolve(failure);
      };
      socket.setTimeout(this.settings.timeoutMs ?? 10_000, () => done('timed out'));
      socket.once('connect', () => done(''));
      socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
    });
  }

  private record(state: 'open' | 'closed', address: string, failure?: string): ProbeState {
    this.metrics.port25Open.set({ target: this.target }, state === 'open' ? 1 : 0);
    if (state !== this.state) {
      // Once per change, not once per probe: the remedy is news only when the state moves.
      if (state === 'closed') this.logger.error({ target: this.target, address, failure }, PORT25_REMEDY);
      else this.logger.info({ target: this.target, address }, 'outbound port 25 is open: direct delivery can reach mail servers');
      this.state = state;
      this.events.emit('change', state);
    }
    this.events.emit('probed', state);
    return state;
  }
}
