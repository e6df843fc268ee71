/**
 * bcrypt checks off the event loop that delivers. A bcrypt compare costs about 100 ms of CPU
 * by design; bcryptjs's async compare slices it on the calling thread, so a burst of wrong
 * passwords on the broker's loop delays every delivery by seconds. Here the checks run in one
 * worker thread, one at a time, and at most MAX_QUEUED_CHECKS wait: past that a check fails
 * at once (the client gets an authorization violation, as for a wrong password) rather than
 * queueing without bound. Failures are also limited per address (LoginThrottle in auth.ts).
 *
 * The worker is code given as text (`eval`), so it runs the same under tsx, in the compiled
 * bundle and in tests; it loads bcryptjs from where this process resolves it.
 */
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/** Checks waiting for the worker at most; past it a check fails at once. */
export const MAX_QUEUED_CHECKS = 64

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const bcrypt = require(workerData.bcryptjs)
parentPort.on('message', ({ id, password, hash }) => {
  let ok = false
  try { ok = bcrypt.compareSync(password, hash) } catch {}
  parentPort.postMessage({ id, ok })
})
`

export class PasswordChecker {
  private worker: Worker | null = null
  private nextId = 1
  private readonly waiting = new Map<number, (ok: boolean) => void>()
  /** Checks refused because MAX_QUEUED_CHECKS were already waiting. */
  refused = 0

  /** Resolves whether `password` matches the bcrypt `hash`; false when too many checks wait. */
  check (password: string, hash: string): Promise<boolean> {
    if (this.waiting.size >= MAX_QUEUED_CHECKS) {
      this.refused++
      return Promise.resolve(false)
    }
    const worker = this.start()
    const id = this.nextId++
    return new Promise((resolve) => {
      this.waiting.set(id, resolve)
      worker.postMessage({ id, password, hash })
    })
  }

  get queued (): number { return this.waiting.size }

  private start (): Worker {
    if (this.worker !== null) return this.worker
    const bcryptjs = createRequire(import.meta.url).resolve('bcryptjs')
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptjs } })
    worker.unref() // an idle checker never keeps the broker alive
    worker.on('message', ({ id, ok }: { id: number, ok: boolean }) => {
      const resolve = this.waiting.get(id)
      this.waiting.delete(id)
      resolve?.(ok)
    })
    const failAll = (): void => {
      this.worker = null
      for (const resolve of this.waiting.values()) resolve(false)
      this.waiting.clear()
    }
    worker.on('error', failAll)
    worker.on('exit', failAll)
    this.worker = worker
    return worker
  }

  async close (): Promise<void> {
    const worker = this.worker
    this.worker = null
    if (worker !== null) await worker.terminate()
  }
}
