/**
 * Group commit for directory fsyncs. A rename is durable only once its directory is fsync'ed;
 * when many sessions commit at once, one fsync issued after all their renames covers them all,
 * so callers that arrive while a sync runs share the next one instead of queueing one each.
 */
import { fsyncPath } from './file-ops';

export class DirectorySync {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(
    private readonly directory: string,
    private readonly fsyncDirectory: (directory: string) => Promise<void> = fsyncPath,
  ) {}

  /** Resolves once a directory fsync that started after this call has completed. */
  sync(): Promise<void> {
    if (!this.running) {
      this.running = this.fsyncOnce().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    // A sync is in flight, but it may have started before our rename: wait for the next one.
    if (!this.next) {
      this.next = this.running.catch(() => undefined).then(() => {
        this.next = undefined;
        return this.sync();
      });
    }
    return this.next;
  }

  private fsyncOnce(): Promise<void> {
    return this.fsyncDirectory(this.directory);
  }
}
