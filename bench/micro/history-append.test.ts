import { describe, expect, it } from 'vitest'
import { parseOptions } from '../../lib/cli-options.ts'
import { HistoryStream } from '../../broker/history.ts'
import { CLI, measureAppends, runHistoryAppend } from './history-append.ts'

describe('history-append micro benchmark', () => {
  it('stores every append, growing and full, and times each round against a reference', async () => {
    const lines: string[] = []
    // Its own check throws unless the stream numbered every append; the reference here is this checkout.
    const rounds = await runHistoryAppend(parseOptions(['--appends', '5000', '--rounds', '2', '--root', '.'], CLI), (l) => lines.push(l))
    expect(rounds).toHaveLength(2)
    for (const r of rounds) expect(r.referenceNs).toBeGreaterThan(0)
    expect(lines[1]).toMatch(/^round 2: [\d.]+ ns per append, reference [\d.]+ \(ratio [\d.]+\)$/)
    expect(measureAppends(HistoryStream, parseOptions(['--appends', '5000', '--max-bytes', '4096'], CLI))).toBeGreaterThan(0)
  })
})
