/**
 * The state folder (`.mxkit-local/` by default): keys, certificates, the demo user, the relay's
 * config and spool, the inbox. The only code that decides where local files live. A lock file
 * keeps two `mxkit local` runs from sharing one folder (they would fight over ports and spool).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LocalError } from './errors';

const LOCK_FILE = 'local.pid';

export class StateFolder {
  readonly root: string;
  private locked = false;

  constructor(dir: string) {
    // Absolute: the relay child and the printed commands must work whatever their working directory.
    this.root = resolve(dir);
  }

  path(name: string): string {
    return join(this.root, name);
  }

  /** Creates the folder (owner-only: it holds private keys) and takes the lock. */
  async open(): Promise<void> {
    const existing = await stat(this.root).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw new LocalError(`state folder ${this.root}: ${error.code ?? error.message}`);
    });
    if (existing && !existing.isDirectory()) throw new LocalError(`state folder ${this.root} is not a folder; pass another --state`);
    try {
      await mkdir(this.root, { recursive: true, mode: 0o700 });
      await mkdir(this.path('inbox'), { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new LocalError(`cannot create state folder ${this.root}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    await this.lock();
    // Leftovers of writeAtomic in a run that was killed mid-write; only we write here, and we hold the lock.
    const names = await readdir(this.root);
    await Promise.all(names.filter((name) => /\.[0-9a-f]{8}\.tmp$/.test(name)).map((name) => rm(this.path(name), { force: true })));
  }

  private async lock(): Promise<void> {
    const lockPath = this.path(LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(lockPath, 'wx', 0o600);
        await handle.writeFile(`${process.pid}\n`);
        await handle.close();
        this.locked = true;
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') throw new LocalError(`cannot write to state folder ${this.root}: ${code ?? String(error)}`);
      }
      const owner = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new LocalError(`state folder ${this.root} is in use by mxkit local (pid ${owner}); stop it or pass another --state`);
      }
      // A lock left by a run that was killed: nobody holds it any more.
      await rm(lockPath, { force: true });
    }
    throw new LocalError(`cannot lock state folder ${this.root}`);
  }

  async unlock(): Promise<void> {
    if (!this.locked) return;
    this.locked = false;
    await rm(this.path(LOCK_FILE), { force: true });
  }

  /** undefined when the file does not exist; any other read failure is a broken folder. */
  async readIfExists(name: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path(name));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      throw this.broken(name, `cannot be read (${code ?? String(error)})`);
    }
  }

  /**
   * Write-then-rename, so a run killed half-way never leaves a half-written key that the next run
   * would reject, and readers of endpoints.json never see a partial document.
   */
  async writeAtomic(name: string, data: string | Buffer, mode = 0o600): Promise<void> {
    const target = this.path(name);
    const temporary = `${target}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(temporary, data, { mode });
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw new LocalError(`cannot write ${target}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }

  async remove(name: string): Promise<void> {
    await rm(this.path(name), { force: true });
  }

  broken(name: string, why: string): LocalError {
    return new LocalError(`state folder ${this.root} is broken: ${name} ${why}; delete that file (it is made anew) or the whole folder`);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else; still alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
