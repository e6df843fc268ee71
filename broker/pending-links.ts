/**
 * The links the cluster primary has asked of its workers (broker/cluster.ts). Each ask waits for
 * one 'linked' answer from that worker; a worker that exits first fails every link it still owes,
 * so a start or a restart says why instead of waiting for ever.
 */
interface Waiter { resolve: () => void, reject: (err: Error) => void }

export class PendingLinks<W> {
  private readonly owed = new Map<W, Waiter[]>()

  /** Resolves at the worker's next 'linked' not already promised to an earlier ask. */
  async ask (worker: W): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const waiters = this.owed.get(worker)
      if (waiters === undefined) this.owed.set(worker, [{ resolve, reject }])
      else waiters.push({ resolve, reject })
    })
  }

  linked (worker: W): void {
    const waiters = this.owed.get(worker)
    waiters?.shift()?.resolve()
    if (waiters?.length === 0) this.owed.delete(worker)
  }

  exited (worker: W, why: string): void {
    for (const waiter of this.owed.get(worker) ?? []) waiter.reject(new Error(why))
    this.owed.delete(worker)
  }
}
