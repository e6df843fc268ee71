/**
 * The process's open-file limit, and how many client connections fit under it.
 *
 * A socket is a file. Past the limit the kernel refuses accept(), and libuv then accepts and
 * closes the waiting connections itself (its EMFILE trick, so the listener does not spin): the
 * client is cut off without a word, and Node emits nothing the broker could log. Keeping the
 * connection limit under the file limit turns that into `-ERR 'maximum connections exceeded'`,
 * told to the client and logged, as Redis lowers maxclients under a low `ulimit -n`.
 */
import { readdirSync, readFileSync } from 'node:fs'

/**
 * Files kept free beside the client connections: the listeners, libuv's spare descriptor for
 * EMFILE, monitoring requests, links to other workers and upstream servers, and the connections
 * being refused or closed (each is told why and closed; at most MAX_LINGERING_CLOSES, 32, wait
 * for their client's end: broker/transports.ts).
 */
export const FILES_KEPT_FREE = 64

/** The soft "Max open files" of a /proc/<pid>/limits text; null when unlimited or absent. */
export function parseOpenFileLimit (limitsText: string): number | null {
  const line = /^Max open files\s+(\S+)/m.exec(limitsText)
  if (line === null) return null
  const soft = line[1] as string
  if (soft === 'unlimited') return null
  const n = Number(soft)
  return Number.isSafeInteger(n) && n > 0 ? n : null
}

/**
 * The most connections that fit: `requested`, or fewer where the open-file limit (with the files
 * open now and FILES_KEPT_FREE beside them) leaves less room; at least 1.
 */
export function connectionsWithinFileLimit (
  requested: number,
  fileLimit: number | null,
  openNow: number,
  keptFree = FILES_KEPT_FREE
): number {
  if (fileLimit === null) return requested
  return Math.max(1, Math.min(requested, fileLimit - openNow - keptFree))
}

/** This process's open-file limit and the files it has open, from /proc; null where there is no /proc (not Linux). */
export function readOpenFiles (): { limit: number | null, open: number } | null {
  try {
    const limit = parseOpenFileLimit(readFileSync('/proc/self/limits', 'utf8'))
    // The listing's own descriptor is among those listed.
    const open = readdirSync('/proc/self/fd').length - 1
    return { limit, open }
  } catch {
    return null
  }
}
