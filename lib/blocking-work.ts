/**
 * How a slow consumer spends time without using CPU: Atomics.wait blocks the thread, so its
 * socket is not read and the broker sees real backpressure. Used by the slow trader bots and by
 * the benchmark's slow subscriber groups.
 */
const sleeper = new Int32Array(new SharedArrayBuffer(4))

/** Blocks this thread for `us` microseconds without using CPU. */
export function blockingSleep (us: number): void {
  if (us > 0) Atomics.wait(sleeper, 0, 0, us / 1000)
}

/** The blocked slices per-message work is spent in (us). */
export const WORK_SLICE_US = 5000
let owedUs = 0

function payOwed (): void {
  const us = owedUs
  owedUs = 0
  blockingSleep(us)
}

/**
 * Spends `us` of per-message work, blocked: in slices of at least WORK_SLICE_US, and whatever
 * is left once the messages of the current socket chunk have been handled (a microtask). One
 * sleep per message would cost a timer wake-up each (thousands a second, about 40 us of CPU
 * apiece): that made a consumer slower than its stated cost and, on a shared core, disturbed
 * its neighbours. One budget per thread, as the time is the thread's.
 */
export function spendBlocked (us: number): void {
  if (us <= 0) return
  if (owedUs === 0) queueMicrotask(payOwed)
  owedUs += us
  if (owedUs >= WORK_SLICE_US) payOwed()
}
