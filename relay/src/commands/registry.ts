/** Every `mxkit` command, in the order `mxkit --help` lists them. Adding one: docs/architecture.md. */
import { checkCommand } from './check';
import { clientSettingsCommand } from './client-settings';
import { codeCacheCommand } from './code-cache';
import type { Command } from './contract';
import { hashPasswordCommand } from './hash-password';
import { localCommand } from './local';
import { queueCommand } from './queue';
import { recordsCommand } from './records';
import { relayCommand } from './relay-command';
import { reportsCommand } from './reports';
import { suppressCommand } from './suppress';
import { traceCommand } from './trace';

export const COMMANDS: readonly Command[] = [
  relayCommand,
  localCommand,
  hashPasswordCommand,
  queueCommand,
  recordsCommand,
  traceCommand,
  suppressCommand,
  reportsCommand,
  checkCommand,
  clientSettingsCommand,
  codeCacheCommand,
];
