/**
 * Whether an HPUB's header block is one every subscriber's client can read.
 *
 * nats-server relays a header block as it came. The official clients parse it only when a
 * subscriber reads `msg.headers`, and nats.js then throws from inside its read loop on a header
 * name with a space or a control byte, or a value with a bare CR or LF: the loop ends, and the
 * connection reads nothing more until its pings time out, minutes later. So one publisher's
 * malformed block would silence every JavaScript subscriber of the subject. tickfan refuses such a
 * block at the door, with the first fault found (`-ERR 'Invalid Header Block ...'`).
 *
 * The block accepted (what nats.js, nats.go, nats.py and the others write):
 *
 *     NATS/1.0[ <3-digit status>[ <description>]]\r\n
 *     <name>:<value>\r\n          (any number of lines)
 *     \r\n                        (the block ends here)
 *
 * A name is one or more bytes 33-126 except `:` (nats.js's rule, the loosest a client reads);
 * a value and a description are any bytes but the control bytes (0-31 but tab, and 127).
 */

import { CONFLATED_HEADER, HEADER_PREAMBLE, SEQUENCE_HEADER } from '../lib/headers.ts'
import { integerAt } from './wire.ts'

const PREAMBLE = Buffer.from(HEADER_PREAMBLE, 'latin1')
/** `NATS/1.0\r\n\r\n`: the shortest block. */
export const MIN_HEADER_BLOCK_BYTES = PREAMBLE.length + 4

const CR = 13
const LF = 10
const SPACE = 32
const TAB = 9
const COLON = 58
const DEL = 127

/** Byte classes for the scan: a header name's bytes, and a value's (which include the name's). */
const NAME = 1
const VALUE = 2
const BYTE_CLASS = new Uint8Array(256)
for (let c = 0; c < 256; c++) {
  const value = c === TAB || (c >= SPACE && c !== DEL)
  BYTE_CLASS[c] = (value ? VALUE : 0) | (c >= 33 && c <= 126 && c !== COLON ? NAME : 0)
}

/** The two header names the broker acts on, lower case: a publisher's sequence, and the broker's own. */
const SEQUENCE_NAME = Buffer.from(SEQUENCE_HEADER.toLowerCase(), 'latin1')
const CONFLATED_NAME = Buffer.from(CONFLATED_HEADER.toLowerCase(), 'latin1')

/**
 * One pass over an HPUB's header block, run for every one: its first fault (`check`), and on the
 * way what the broker would otherwise scan the block for again, each scan a walk of its lines
 * (`wire.ts` `readIntegerHeader` for `Tickfan-Seq`, `withoutHeader` for `Tickfan-Conflated`).
 *
 * The common block (no status) is scanned once, a table lookup a byte, the CR of the block's
 * closing line standing guard at the end of each inner loop. Any other is left to
 * `describeFault`, which agrees with the scan on every block (header-block.test.ts) and names the
 * fault; the facts of a well-formed block with a status are then left unread (`sequence` null,
 * `conflated` true: the broker reads them itself).
 */
export class HeaderBlockScan {
  /** `Tickfan-Seq` as `readIntegerHeader` reads it (undefined: none, or not an integer); null: not read. */
  sequence: number | undefined | null = null
  /** Whether a `Tickfan-Conflated` line may be in the block (one a client sent, to be taken out). */
  conflated = true

  /** The first fault of the block `data[0, headerBytes)`, in words; null when it is well formed. */
  check (data: Uint8Array, headerBytes: number): string | null {
    this.sequence = null
    this.conflated = true
    if (headerBytes < MIN_HEADER_BLOCK_BYTES || data[8] !== CR) return describeFault(data, headerBytes)
    for (let k = 0; k < 8; k++) if (data[k] !== PREAMBLE[k]) return describeFault(data, headerBytes)
    const end = headerBytes - 2
    if (data[end] !== CR || data[end + 1] !== LF || data[9] !== LF) return describeFault(data, headerBytes)
    let sequence: number | undefined | null = null
    let conflated = false
    let i = 10
    while (i < end) {
      const nameStart = i
      let c = data[i] as number
      while (((BYTE_CLASS[c] as number) & NAME) !== 0) c = data[++i] as number
      if (c !== COLON || i === nameStart) return describeFault(data, headerBytes)
      const valueStart = i + 1
      if (sequence === null && isName(data, nameStart, i, SEQUENCE_NAME)) sequence = integerAt(data, valueStart, end)
      else if (!conflated && isName(data, nameStart, i, CONFLATED_NAME)) conflated = true
      i = valueStart
      c = data[i] as number
      while (((BYTE_CLASS[c] as number) & VALUE) !== 0) c = data[++i] as number
      if (c !== CR || data[i + 1] !== LF) return describeFault(data, headerBytes)
      i += 2
    }
    if (i !== end) return describeFault(data, headerBytes)
    this.sequence = sequence ?? undefined
    this.conflated = conflated
    return null
  }
}

const sharedScan = new HeaderBlockScan()

/** The first fault of the block `data[0, headerBytes)`, in words; null when it is well formed. */
export function headerBlockProblem (data: Uint8Array, headerBytes: number): string | null {
  return sharedScan.check(data, headerBytes)
}

/** Whether `data[start, end)` is `lower` in any case (a header name: letters, digits and `-`). */
function isName (data: Uint8Array, start: number, end: number, lower: Uint8Array): boolean {
  if (end - start !== lower.length) return false
  for (let k = 0; k < lower.length; k++) if (((data[start + k] as number) | 0x20) !== lower[k]) return false
  return true
}

/** HeaderBlockScan's answer for any block, scanned a step at a time to name the first fault. */
export function describeFault (data: Uint8Array, headerBytes: number): string | null {
  if (headerBytes < MIN_HEADER_BLOCK_BYTES) return `shorter than ${MIN_HEADER_BLOCK_BYTES} bytes`
  for (let k = 0; k < PREAMBLE.length; k++) if (data[k] !== PREAMBLE[k]) return 'does not start with NATS/1.0'
  let i = PREAMBLE.length
  if (data[i] === SPACE) {
    for (let k = 1; k <= 3; k++) {
      const d = data[i + k] as number
      if (d < 48 || d > 57) return 'the status after NATS/1.0 is not three digits'
    }
    i += 4
    if (data[i] === SPACE) i = endOfText(data, i + 1, headerBytes)
  }
  if (!isLineEnd(data, i, headerBytes)) return faultAt(data, i, headerBytes, 'in the status line')
  i += 2
  for (;;) {
    if (i + 1 >= headerBytes) return 'does not end with a blank line'
    if (isLineEnd(data, i, headerBytes)) {
      i += 2
      break
    }
    const nameStart = i
    while (i < headerBytes && data[i] !== COLON) {
      const c = data[i] as number
      if (c < 33 || c > 126) {
        return c === CR || c === LF ? `header line at byte ${nameStart} has no colon` : `byte ${c} in a header name at byte ${i}`
      }
      i++
    }
    if (i >= headerBytes) return `header line at byte ${nameStart} has no colon`
    if (i === nameStart) return `empty header name at byte ${i}`
    i = endOfText(data, i + 1, headerBytes)
    if (!isLineEnd(data, i, headerBytes)) return faultAt(data, i, headerBytes, 'in a header value')
    i += 2
  }
  return i === headerBytes ? null : `bytes after the blank line that ends the block, at byte ${i}`
}

/** The index of the first control byte (tab allowed) at or after `i`, or `end`. */
function endOfText (data: Uint8Array, i: number, end: number): number {
  for (; i < end; i++) {
    const c = data[i] as number
    if ((c < SPACE && c !== TAB) || c === DEL) return i
  }
  return i
}

function isLineEnd (data: Uint8Array, i: number, end: number): boolean {
  return i + 1 < end && data[i] === CR && data[i + 1] === LF
}

/** Why the line does not end at `i`. */
function faultAt (data: Uint8Array, i: number, end: number, where: string): string {
  if (i + 1 >= end) return 'does not end with a blank line'
  const c = data[i] as number
  if (c === CR) return `a CR without its LF ${where}, at byte ${i}`
  if (c === LF) return `an LF without its CR ${where}, at byte ${i}`
  return c < SPACE || c === DEL ? `control byte ${c} ${where}, at byte ${i}` : `unexpected byte ${c} ${where}, at byte ${i}`
}
