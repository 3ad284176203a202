import { IntakeFirst, MAX_HOLD_MS, type AttemptHold } from '../../../relay/src/delivery/intake-first';
import { MainThreadLoad, SAMPLE_MS } from '../../../relay/src/ops/main-thread-load';
import { Scheduler } from '../../../relay/src/delivery/scheduler';

/** An IntakeFirst whose event-loop utilisation the test sets. */
function intakeFirst(burstArrivals = 5) {
  const meter = { utilisation: 0.9 };
  const hold = new IntakeFirst({ burstArrivals, load: new MainThreadLoad(() => meter.utilisation) });
  const burst = (at: number) => {
    for (let i = 0; i < burstArrivals; i++) hold.noteArrival(at - 100 + i);
  };
  return { hold, meter, burst };
}

/** Asks twice a sample apart, as the scheduler does: the first sample only starts the meter. */
function askTwice(hold: AttemptHold, dueAt: number, now: number): boolean {
  hold.holds(dueAt, now - SAMPLE_MS);
  return hold.holds(dueAt, now);
}

describe('intake first: new deliveries wait while a burst of incoming mail saturates the relay', () => {
  const now = 1_000_000;

  it('holds an attempt during a burst that keeps the main thread busy', () => {
    const { hold, burst } = intakeFirst();
    burst(now);
    expect(askTwice(hold, now, now)).toBe(true);
  });

  it('does not hold when the main thread is not busy, however many messages arrive', () => {
    const { hold, meter, burst } = intakeFirst();
    meter.utilisation = 0.3;
    burst(now);
    expect(askTwice(hold, now, now)).toBe(false);
  });

  it('does not hold a steady trickle of mail, however busy the main thread is', () => {
    const { hold } = intakeFirst(5);
    // Five arrivals, but spread over more than a second.
    for (let i = 0; i < 5; i++) hold.noteArrival(now - 1500 + i * 300);
    expect(askTwice(hold, now, now)).toBe(false);
  });

  it('stops holding once the burst is more than a second old', () => {
    const { hold, burst } = intakeFirst();
    burst(now);
    expect(askTwice(hold, now, now)).toBe(true);
    expect(hold.holds(now, now + 1000)).toBe(false);
  });

  it(`never holds an attempt more than ${MAX_HOLD_MS / 1000} s past its due time, even in an endless burst`, () => {
    const { hold, burst } = intakeFirst();
    const later = now + MAX_HOLD_MS;
    burst(later);
    expect(askTwice(hold, now + 1, later)).toBe(true);
    expect(hold.holds(now, later)).toBe(false);
    expect(hold.recheckAt(now + 1, later - 10)).toBe(now + 1 + MAX_HOLD_MS);
  });

  it('looks again at the next sample of the load, the same time for every arrival within it', () => {
    const { hold, burst } = intakeFirst();
    burst(now);
    expect(askTwice(hold, now, now)).toBe(true);
    expect(hold.holds(now, now + 100)).toBe(true);
    expect(hold.recheckAt(now, now)).toBe(now + SAMPLE_MS);
    expect(hold.recheckAt(now, now + 100)).toBe(now + SAMPLE_MS);
  });

  it('reports a hold once when it begins and, when it ends, how long it lasted', () => {
    const changes: unknown[] = [];
    const hold = new IntakeFirst({ onChange: (change) => changes.push(change) });
    hold.holding(false, now);
    hold.holding(true, now);
    hold.holding(true, now + 100);
    hold.holding(false, now + 400);
    hold.holding(false, now + 500);
    expect(changes).toEqual([{ held: true }, { held: false, heldMs: 400 }]);
  });

  it('judges the first sample after a quiet spell as not busy (it spans the quiet time)', () => {
    const { hold, burst } = intakeFirst();
    burst(now);
    expect(hold.holds(now, now)).toBe(false);
  });
});

describe('the delivery scheduler with a hold', () => {
  it('starts nothing while held, then the earliest due first once the hold ends', async () => {
    let holding = true;
    const hold: AttemptHold = { holds: () => holding, recheckAt: (_dueAt, at) => at + 20 };
    const started: string[] = [];
    let wake: () => void = () => undefined;
    const run = (id: string) => {
      started.push(id);
      wake();
      return Promise.resolve(undefined);
    };
    const scheduler = new Scheduler(run, 4, () => 1000, Date.now, hold);
    const at = Date.now();
    scheduler.schedule('B', at);
    scheduler.schedule('A', at - 10);
    // Several rechecks pass while held: nothing starts.
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(started).toEqual([]);
    const both = new Promise<void>((resolve) => (wake = () => started.length === 2 && resolve()));
    holding = false;
    await both;
    expect(started).toEqual(['A', 'B']);
    await scheduler.stop(0);
  });

  it('tells the hold when the first due attempt starts waiting on it and when nothing waits any more', async () => {
    let holding = true;
    const told: boolean[] = [];
    const hold: AttemptHold = {
      holds: () => holding,
      recheckAt: (_dueAt, at) => at + 20,
      holding: (held) => {
        if (told[told.length - 1] !== held) told.push(held);
      },
    };
    let started: () => void = () => undefined;
    const scheduler = new Scheduler(() => (started(), Promise.resolve(undefined)), 4, () => 1000, Date.now, hold);
    scheduler.schedule('A');
    scheduler.schedule('B');
    expect(told).toEqual([true]);
    const ran = new Promise<void>((resolve) => (started = resolve));
    holding = false;
    await ran;
    expect(told).toEqual([true, false]);
    await scheduler.stop(0);
  });

  it('ends a hold when the scheduler stops', async () => {
    const told: boolean[] = [];
    const hold: AttemptHold = { holds: () => true, recheckAt: (_dueAt, at) => at + 20, holding: (held) => void told.push(held) };
    const scheduler = new Scheduler(() => Promise.resolve(undefined), 4, () => 1000, Date.now, hold);
    scheduler.schedule('A');
    expect(told[told.length - 1]).toBe(true);
    await scheduler.stop(0);
    expect(told[told.length - 1]).toBe(false);
  });
});

describe("the main thread's load", () => {
  it('is the utilisation measured over the last sample, sampled at most once per period', () => {
    const values = [0.1, 0.9, 0.3];
    const load = new MainThreadLoad(() => values.shift() ?? 0, 250);
    expect(load.utilisation(1000)).toBeUndefined(); // the first sample only starts the meter
    expect(load.utilisation(1250)).toBe(0.9);
    expect(load.utilisation(1400)).toBe(0.9);
    expect(load.utilisation(1500)).toBe(0.3);
  });

  it('says nothing about now after a quiet spell: a sample spanning it is discarded', () => {
    const load = new MainThreadLoad(() => 0.8, 250);
    load.utilisation(1000);
    expect(load.utilisation(1250)).toBe(0.8);
    expect(load.utilisation(60_000)).toBeUndefined();
    expect(load.utilisation(60_250)).toBe(0.8);
  });

  it('measures the real event loop: a busy loop reads as busy', () => {
    const load = new MainThreadLoad(undefined, 200);
    load.utilisation(performance.now());
    const until = performance.now() + 220;
    while (performance.now() < until) {
      // Busy: the loop runs this callback instead of waiting for I/O (the running callback counts).
    }
    expect(load.utilisation(performance.now())).toBeGreaterThan(0.5);
  });
});
