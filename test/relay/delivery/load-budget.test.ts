/**
 * Delivery's memory bound (issue 13 point 4) with delivery on worker threads (issue 17): an
 * attempt reserves its message's size times the copies it holds on every thread, once it knows
 * its destination groups, and gives the bytes back when it ends.
 */
import { copiesHeld, LoadBudget } from '../../../relay/src/delivery/load-budget';

/** Resolves on the next turn of the event loop: whatever could run by then has run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("delivery's memory bound", () => {
  it('counts one copy per parallel transmission besides the one read, and two more per rewritten forward', () => {
    expect(copiesHeld(0, 1)).toBe(2);
    // A message to 20 destination domains: each worker transmission holds its own copy.
    expect(copiesHeld(0, 20)).toBe(21);
    // Two of our users forwarding with From rewritten: each gets a rewritten and a re-sealed copy.
    expect(copiesHeld(2, 2)).toBe(7);
  });

  it('makes an attempt wait until the bytes reserved by another attempt are released', async () => {
    const budget = new LoadBudget(100);
    const first = budget.reservation();
    const second = budget.reservation();
    await first.acquire(80);
    let secondAcquired = false;
    const waiting = second.acquire(40).then(() => (secondAcquired = true));
    await settle();
    expect(secondAcquired).toBe(false);
    first.release();
    await waiting;
    expect(secondAcquired).toBe(true);
    second.release();
  });

  it('lets a message larger than the whole budget run when nothing else is held, so it is never starved', async () => {
    const budget = new LoadBudget(100);
    const large = budget.reservation();
    await large.acquire(500);
    const small = budget.reservation();
    let smallAcquired = false;
    const waiting = small.acquire(1).then(() => (smallAcquired = true));
    await settle();
    expect(smallAcquired).toBe(false);
    large.release();
    await waiting;
    small.release();
  });

  it('releases nothing for an attempt that ended before reserving (a message found gone)', async () => {
    const budget = new LoadBudget(100);
    budget.reservation().release();
    const next = budget.reservation();
    await next.acquire(100);
    const after = budget.reservation();
    let acquired = false;
    const waiting = after.acquire(1).then(() => (acquired = true));
    await settle();
    expect(acquired).toBe(false);
    next.release();
    await waiting;
    after.release();
  });
});
