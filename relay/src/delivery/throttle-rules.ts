/**
 * Which throttle rule a remote reply earns, decided in one place. Replies are compared as one line
 * (multi-line replies joined, RFC 5321 4.2.1 `250-` continuations dropped) and case-insensitively.
 * A pattern that begins with a reply code matches only where a reply begins: at the start of the
 * text, or after "host: " in a connection failure's detail (a 421 greeting).
 */
import type { ThrottleRule } from '../config/deliverability';

/** Longest reply text compared: remote replies are hostile input and may be long. */
const MAX_REPLY_CHARS = 2000;

export function normaliseReply(reply: string): string {
  return reply
    .slice(0, MAX_REPLY_CHARS)
    .replace(/\r?\n(\d{3})[- ]/g, ' ')
    .replace(/^(\d{3})-/, '$1 ')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();
}

interface CompiledRule {
  rule: ThrottleRule;
  text: string;
  /** Set for patterns that begin with a reply code. */
  anchored?: RegExp;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class RuleBook {
  private readonly compiled: CompiledRule[];

  constructor(rules: readonly ThrottleRule[]) {
    this.compiled = rules.map((rule) => {
      const text = normaliseReply(rule.match);
      // "421" must not match "4210" or a "421" inside the text: at a reply's start, not followed by a digit.
      return /^\d{3}(\s|$)/.test(text) ? { rule, text, anchored: new RegExp(`(?:^|: )${escapeRegExp(text)}(?!\\d)`) } : { rule, text };
    });
  }

  /** The first rule the reply matches, or undefined. */
  match(reply: string): ThrottleRule | undefined {
    const line = normaliseReply(reply);
    for (const { rule, text, anchored } of this.compiled) {
      if (anchored ? anchored.test(line) : line.includes(text)) return rule;
    }
    return undefined;
  }
}
