import { describe, expect, it } from 'vitest'
import { flameGraphSvg, moduleOf, summarizeProfile, withSources, type CpuProfile } from './profile.ts'

// root -> main -> (deliver: 30 us self, flush: 10 us self), and (idle): 60 us.
const PROFILE: CpuProfile = {
  nodes: [
    { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 5] },
    { id: 2, callFrame: { functionName: 'route', url: 'file:///x/broker/router.ts', lineNumber: 9 }, children: [3, 4] },
    { id: 3, callFrame: { functionName: 'deliver', url: 'file:///x/broker/client.ts', lineNumber: 199 } },
    { id: 4, callFrame: { functionName: 'flush', url: 'file:///x/broker/client-writer.ts', lineNumber: 49 } },
    { id: 5, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } }
  ],
  samples: [3, 3, 3, 4, 5, 5, 5, 5, 5, 5],
  timeDeltas: [10, 10, 10, 10, 10, 10, 10, 10, 10, 10]
}

describe('CPU profile summary', () => {
  it('gives each function and module its share of busy time, idle left out', () => {
    const s = summarizeProfile(PROFILE)
    expect(s.busyUs).toBe(40)
    expect(s.idleUs).toBe(60)
    expect(s.byFunction[0]).toEqual({ name: 'deliver broker/client.ts:200', selfUs: 30, share: 0.75 })
    expect(s.byModule.map((m) => [m.name, m.share])).toEqual([['broker/client.ts', 0.75], ['broker/client-writer.ts', 0.25]])
  })

  it('names modules by their path in the repository or their package', () => {
    expect(moduleOf('file:///work/main/broker/outbox.ts')).toBe('broker/outbox.ts')
    expect(moduleOf('file:///work/main/node_modules/@nats-io/nats-core/lib/x.js')).toBe('npm:@nats-io/nats-core')
    expect(moduleOf('node:internal/streams/writable')).toBe('node:internal/streams/writable')
  })

  it('draws a flame graph with a frame per function, as wide as its share', () => {
    const svg = flameGraphSvg(PROFILE, 'test', 1000)
    expect(svg).toMatch(/^<svg /)
    expect(svg).toContain('<title>deliver broker/client.ts:200: 75.00%</title>')
    expect(svg).toMatch(/<title>route broker\/router.ts:10: 100.00%<\/title><rect x="0.00" y="\d+" width="1000.00"/)
    expect(svg).not.toContain('(idle)')
  })

  it('moves the frames a source map knows to their sources, and leaves the others as they were', () => {
    const bundled: CpuProfile = {
      ...PROFILE,
      nodes: PROFILE.nodes.map((n) => n.callFrame.url === '' ? n : { ...n, callFrame: { ...n.callFrame, url: 'file:///x/dist/broker.mjs', columnNumber: 2 } })
    }
    const seen: Array<[string, number, number]> = []
    const mapped = withSources(bundled, (url, line, column) => {
      seen.push([url, line, column])
      return line === 199 ? { url: 'file:///x/broker/client.ts', line: 41 } : null
    })
    expect(seen).toEqual([['file:///x/dist/broker.mjs', 9, 2], ['file:///x/dist/broker.mjs', 199, 2], ['file:///x/dist/broker.mjs', 49, 2]])
    expect(mapped.nodes.map((n) => `${n.callFrame.url}:${n.callFrame.lineNumber}`)).toEqual([
      ':-1', 'file:///x/dist/broker.mjs:9', 'file:///x/broker/client.ts:41', 'file:///x/dist/broker.mjs:49', ':-1'
    ])
    expect(summarizeProfile(mapped).byFunction[0]?.name).toBe('deliver broker/client.ts:42')
    expect(mapped.samples).toBe(bundled.samples)
  })
})
