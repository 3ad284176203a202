/**
 * smtp-server waits a fixed 100 ms before its 220 greeting, to catch clients that talk before
 * being spoken to (a spam-bot tell, worth it on port 25). On the submission ports the clients
 * are our own authenticated users, and the wait caps each session at ten messages a second, so
 * listeners there set `greetingDelayMs: 0`. Without that option smtp-server behaves as shipped.
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

interface ConnectionInternals {
  init(): void;
  _setListeners(ready: () => void): void;
  connectionReady(): void;
  _server: { options: { greetingDelayMs?: number } };
}

let installed = false;

export function installGreetingDelayOption(): void {
  if (installed) return;
  installed = true;
  const prototype = SMTPConnection.prototype as unknown as ConnectionInternals;
  const originalInit = prototype.init;
  prototype.init = function init(this: ConnectionInternals) {
    const delay = this._server.options.greetingDelayMs;
    if (delay === undefined) return originalInit.call(this);
    this._setListeners(() => {
      setTimeout(() => this.connectionReady(), delay).unref();
    });
  };
}
