import { describe, expect, it } from 'vitest'
import { parseOptions } from '../../lib/cli-options.ts'
import { CLI, runPublishPath } from './publish-path.ts'

describe('publish-path micro benchmark', () => {
  // Its own check (every delivery counted is a frame written, and every message sent is
  // delivered) throws when the method is broken; these runs must pass it.
  it.each([0, 7, 13])('delivers every message with %i commands per read (0: as many as fit 64 KiB)', async (perRead) => {
    const o = parseOptions(['--messages', '3000', '--subscribers', '2', '--subjects', '100', '--subject', 'trade',
      '--per-read', String(perRead)], CLI)
    const r = await runPublishPath(o)
    expect(r.deliveries).toBe(r.messages * 2)
    expect(r.written).toBe(r.deliveries)
    // Reads of whole commands: 3,000 messages in reads of 7 take ceil(3000 / 7) reads.
    if (perRead > 0) expect(r.messages).toBe(Math.ceil(3000 / perRead) * perRead)
  })

  it('takes the history\'s memory at start with --history-preallocate, as the capped suite\'s broker does', async () => {
    const args = ['--messages', '2000', '--subscribers', '2', '--subject', 'trade', '--history-max-bytes', String(1024 * 1024)]
    expect((await runPublishPath(parseOptions(args, CLI))).historySlabsAtStart).toBe(0)
    const preallocated = await runPublishPath(parseOptions([...args, '--history-preallocate'], CLI))
    expect(preallocated.historySlabsAtStart).toBe(16) // 1 MiB in slabs of 64 KiB
    expect(preallocated.written).toBe(preallocated.messages * 2)
  })

  // Its subscribers keep up: a run in which the broker conflated them measured conflation, not
  // the publish path, and fails. With an ack wait of 1 ms the flow window (bytes acknowledged per
  // ms times a quarter of the wait, at least 8 KiB) stays far below the 61 KiB each subscriber
  // gets per read, so they are conflated on any machine; with the benchmark's own minute, never.
  it('fails when its subscribers are conflated, as a planted 1 ms ack wait makes them', async () => {
    const args = ['--messages', '3000', '--subscribers', '10', '--subject', 'quote']
    await expect(runPublishPath(parseOptions([...args, '--max-ack-wait-ms', '1'], CLI))).rejects.toThrow(/conflated \d+ times in the measured run/)
    const r = await runPublishPath(parseOptions(args, CLI))
    expect(r.written).toBe(r.messages * 10)
  })
})
