/**
 * A preload that samples where a process allocates on the JS heap (V8's sampling heap
 * profiler, every 512 bytes on average, counting objects the collector has already freed) and
 * at exit writes the allocating call sites, their callers and each one's share of the bytes to
 * `$ALLOCATION_SITES_OUT` (default /tmp/allocation-sites.txt). What bench/micro/publish-path.ts
 * reports as heap bytes per message, by where it comes from:
 *
 *   ALLOCATION_SITES_OUT=/tmp/sites.txt node --import tsx --import ./bench/micro/allocation-sites.mjs \
 *     bench/micro/publish-path.ts --subject trade --subscribers 2 --messages 1000000
 */
import { Session } from 'node:inspector'
import { writeFileSync } from 'node:fs'
import process from 'node:process'

const out = process.env.ALLOCATION_SITES_OUT ?? '/tmp/allocation-sites.txt'
const FRAMES = 4
const TOP = 25
const session = new Session()
session.connect()
session.post('HeapProfiler.enable')
session.post('HeapProfiler.startSampling', {
  samplingInterval: 512,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true
})

function frame (node) {
  const f = node.callFrame
  return `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`
}

process.once('exit', () => {
  // The inspector answers synchronously within the same thread.
  session.post('HeapProfiler.stopSampling', (err, result) => {
    if (err !== null) { writeFileSync(out, `sampling failed: ${err.message}\n`); return }
    const bySite = new Map()
    const walk = (node, callers) => {
      const stack = [frame(node), ...callers].slice(0, FRAMES)
      if (node.selfSize > 0) {
        const key = stack.join(' < ')
        bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize)
      }
      for (const child of node.children) walk(child, stack)
    }
    walk(result.profile.head, [])
    const total = [...bySite.values()].reduce((a, b) => a + b, 0)
    const lines = [...bySite].sort((a, b) => b[1] - a[1]).slice(0, TOP)
      .map(([site, bytes]) => `${(100 * bytes / total).toFixed(1).padStart(5)}%  ${site}`)
    writeFileSync(out, `sampled ${total} bytes of allocation (every 512 B on average)\n${lines.join('\n')}\n`)
  })
})
