/**
 * Hot reload of the TLS certificate and key: on a change of either file (watched through their
 * folders, since renewals usually replace files by rename) or on SIGHUP. A pair that does not
 * load is logged and ignored; the listeners keep the certificate they have. Open sessions keep
 * theirs; new handshakes get the new one.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from './logger';
import type { TlsMaterial } from '../tls/material';

export interface TlsReloaderOptions {
  certFile: string;
  keyFile: string;
  read: () => Promise<TlsMaterial | undefined>;
  apply: (material: TlsMaterial) => void;
  logger: Logger;
  debounceMs?: number;
}

export class TlsReloader {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<boolean> = Promise.resolve(true);

  constructor(private readonly options: TlsReloaderOptions) {}

  start(): void {
    const files = new Map<string, Set<string>>();
    for (const file of [this.options.certFile, this.options.keyFile]) {
      const folder = dirname(file);
      files.set(folder, (files.get(folder) ?? new Set()).add(basename(file)));
    }
    for (const [folder, names] of files) {
      const watcher = watch(folder, { persistent: false }, (_event, name) => {
        if (name === null || names.has(name.toString())) this.schedule();
      });
      watcher.on('error', (error) => this.options.logger.warn({ err: error, folder }, 'cannot watch TLS files; SIGHUP still reloads'));
      this.watchers.push(watcher);
    }
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.reload(), this.options.debounceMs ?? 200);
    this.timer.unref();
  }

  /** Reloads now; resolves true when the new pair is in use. */
  reload(): Promise<boolean> {
    this.reloading = this.reloading.then(async () => {
      try {
        const material = await this.options.read();
        if (!material) return false;
        this.options.apply(material);
        this.options.logger.info({ certFile: this.options.certFile }, 'TLS certificate reloaded');
        return true;
      } catch (error) {
        this.options.logger.error({ err: error }, 'TLS reload failed; keeping the current certificate');
        return false;
      }
    });
    return this.reloading;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.watchers.forEach((watcher) => watcher.close());
    this.watchers = [];
  }
}
