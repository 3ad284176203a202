/**
 * The patches of smtp-server's SASL mechanism table (lib/sasl.js; see index.ts for how patches are
 * checked and installed). smtp-server looks a mechanism up by name there (`SASL_` + the name
 * AUTH gives, smtp-connection.js handler_AUTH) once the name is in the server's authMethods.
 * XOAUTH2 is replaced and OAUTHBEARER (RFC 7628), which upstream lacks, is added; both run the
 * mechanism a server names in its option `saslMechanisms` (intake/oauth/sasl.ts speaks the
 * protocol), so a server without the option behaves as upstream ships it.
 */
import SASL from 'smtp-server/lib/sasl.js';
import { version as smtpServerVersion } from 'smtp-server/package.json';
import type { AnyMethod, MethodPatch } from './method-patch';

/** What a mechanism is run with as `this`: smtp-server's connection (the parts the table's own use). */
export interface SaslConnectionInternals {
  _server: { options: { saslMechanisms?: Readonly<Record<string, SaslMechanism>> } };
  send(code: number, data?: string): void;
}

/** A SASL mechanism as smtp-server's table holds them: the AUTH arguments after the name. */
export type SaslMechanism = (this: SaslConnectionInternals, args: string[], callback: () => void) => void;

const saslTable = () => SASL as unknown as Record<string, unknown>;

function saslPatch(name: string, fields: Pick<MethodPatch, 'arity' | 'replace'> & { adds?: true }): MethodPatch {
  return { module: 'smtp-server', version: smtpServerVersion, name: `SASL.SASL_${name}`, owner: saslTable, method: `SASL_${name}`, ...fields };
}

/** The server's own mechanism for `name`, if its option has one. */
const ownMechanism = (connection: SaslConnectionInternals, name: string) => connection._server.options.saslMechanisms?.[name];

/** XOAUTH2: the server's mechanism (a verified JWT, RFC 7628's failure sequence), else upstream's. */
export const saslXoauth2 = saslPatch('XOAUTH2', {
  arity: 2,
  replace: (original) =>
    function SASL_XOAUTH2(this: SaslConnectionInternals, args: string[], callback: () => void) {
      const own = ownMechanism(this, 'XOAUTH2');
      if (own) return own.call(this, args, callback);
      return (original as unknown as SaslMechanism).call(this, args, callback);
    } as unknown as AnyMethod,
});

/**
 * OAUTHBEARER: added. A server that lists it in authMethods without giving the mechanism gets
 * upstream's answer to an unknown one.
 */
export const saslOauthBearer = saslPatch('OAUTHBEARER', {
  adds: true,
  arity: 2,
  replace: () =>
    function SASL_OAUTHBEARER(this: SaslConnectionInternals, args: string[], callback: () => void) {
      const own = ownMechanism(this, 'OAUTHBEARER');
      if (own) return own.call(this, args, callback);
      this.send(504, 'Error: Unrecognized authentication type');
      callback();
    } as unknown as AnyMethod,
});
