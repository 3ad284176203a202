import { DueHeap } from '../../../relay/src/delivery/due-heap';
import { Scheduler } from '../../../relay/src/delivery/scheduler';

/** A run function whose attempts the test finishes by hand. */
function controlledRuns() {
  const started: string[] = [];
  const pending = new Map<string, (next: number | undefined) => void>();
  const waiters: Array<() => void> = [];
  const run = (id: string) =>
    new Promise<number | undefined>((resolve) => {
      started.push(id);
      pending.set(id, resolve);
      waiters.splice(0).forEach((wake) => wake());
    });
  const startedCount = async (count: number) => {
    while (started.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  const finish = async (id: string, next?: number) => {
    pending.get(id)?.(next);
    pending.delete(id);
    // Let the scheduler's promise chain run.
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { started, pending, run, startedCount, finish };
}

describe('the delivery scheduler', () => {
  it('attempts due messages earliest first, and equal times in the order they were scheduled', async () => {
    const runs = controlledRuns();
    const scheduler = new Scheduler(runs.run, 1, () => 1000);
    const now = Date.now();
    scheduler.schedule('C', now + 40);
    scheduler.schedule('A', now + 20);
    scheduler.schedule('B', now + 40);
    await runs.startedCount(1);
    await runs.finish('A');
    await runs.startedCount(2);
    await runs.finish('C');
    await runs.startedCount(3);
    await runs.finish('B');
    expect(runs.started).toEqual(['A', 'C', 'B']);
    await scheduler.stop(0);
  });

  it('keeps at most `concurrency` messages in progress and starts the next as one finishes', async () => {
    const runs = controlledRuns();
    const scheduler = new Scheduler(runs.run, 2, () => 1000);
    for (const id of ['A', 'B', 'C', 'D']) scheduler.schedule(id);
    await runs.startedCount(2);
    expect(runs.started).toEqual(['A', 'B']);
    await runs.finish('A');
    await runs.startedCount(3);
    expect(runs.started).toEqual(['A', 'B', 'C']);
    await runs.finish('B');
    await runs.finish('C');
    await runs.startedCount(4);
    await runs.finish('D');
    expect(scheduler.size).toBe(0);
    await scheduler.stop(0);
  });

  it('never runs a message twice at once, and runs it once more when asked to retry while it runs', async () => {
    const runs = controlledRuns();
    const scheduler = new Scheduler(runs.run, 4, () => 1000);
    scheduler.schedule('A');
    await runs.startedCount(1);
    scheduler.schedule('A'); // e.g. `mxkit queue retry` while the attempt is in progress
    expect(runs.started).toEqual(['A']);
    await runs.finish('A', Date.now() + 60_000);
    await runs.startedCount(2);
    expect(runs.started).toEqual(['A', 'A']);
    await runs.finish('A');
    await scheduler.stop(0);
  });

  it('waits for a message due later, and brings it forward when scheduled earlier', async () => {
    const runs = controlledRuns();
    const scheduler = new Scheduler(runs.run, 4, () => 1000);
    scheduler.schedule('later', Date.now() + 60_000);
    scheduler.schedule('soon', Date.now() + 20);
    await runs.startedCount(1);
    expect(runs.started).toEqual(['soon']);
    scheduler.schedule('later', Date.now());
    await runs.startedCount(2);
    expect(runs.started).toEqual(['soon', 'later']);
    await runs.finish('soon');
    await runs.finish('later');
    await scheduler.stop(0);
  });

  it('does not run a message it was told to forget', async () => {
    const runs = controlledRuns();
    const scheduler = new Scheduler(runs.run, 4, () => 1000);
    scheduler.schedule('gone', Date.now() + 30);
    scheduler.schedule('kept', Date.now() + 40);
    scheduler.forget('gone');
    await runs.startedCount(1);
    expect(runs.started).toEqual(['kept']);
    await runs.finish('kept');
    await scheduler.stop(0);
  });

  it('retries an attempt that threw after the delay onError gives', async () => {
    const attempts: number[] = [];
    let scheduler: Scheduler | undefined;
    const done = new Promise<void>((resolve) => {
      scheduler = new Scheduler(
        async () => {
          attempts.push(Date.now());
          if (attempts.length === 1) throw new Error('EMFILE');
          resolve();
          return undefined;
        },
        1,
        () => 30,
      );
    });
    scheduler?.schedule('A');
    await done;
    expect(attempts).toHaveLength(2);
    expect(attempts[1] - attempts[0]).toBeGreaterThanOrEqual(25);
    await scheduler?.stop(0);
  });

  it('holds 100,000 queued messages due later without running any of them early', async () => {
    const runs = controlledRuns();
    const scheduler = new Scheduler(runs.run, 32, () => 1000);
    const later = Date.now() + 3_600_000;
    for (let index = 0; index < 100_000; index++) scheduler.schedule(`M${index}`, later + index);
    scheduler.schedule('now');
    await runs.startedCount(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(runs.started).toEqual(['now']);
    expect(scheduler.size).toBe(100_001);
    await runs.finish('now');
    await scheduler.stop(0);
  });
});

describe('the due-time heap', () => {
  it('pops in time order, ties in push order', () => {
    const heap = new DueHeap();
    const times = [5, 3, 9, 3, 1, 7, 3];
    times.forEach((at, index) => heap.push(at, `i${index}`));
    const popped: string[] = [];
    for (let item = heap.pop(); item; item = heap.pop()) popped.push(`${item.at}:${item.id}`);
    expect(popped).toEqual(['1:i4', '3:i1', '3:i3', '3:i6', '5:i0', '7:i5', '9:i2']);
  });
});
