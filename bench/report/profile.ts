/**
 * A V8 CPU profile (`node --cpu-prof`, the `.cpuprofile` JSON Chrome DevTools opens) read for
 * what a benchmark wants from it: the share of busy time spent in each function and in each
 * module (self time), and a flame graph as self-contained SVG. Pure: text in, text out.
 *
 * Self time comes from the samples: each sample names the node (a function in one call stack)
 * that was running, and `timeDeltas` says how long since the previous sample. Idle time
 * (`(idle)`) is left out of the shares; `(garbage collector)` and `(program)` (V8 and native
 * work outside JavaScript, such as socket writes) stay in: they are the broker's cost too.
 */
import { escapeHtml } from '../../lib/html.ts'

interface ProfileNode {
  id: number
  /** `lineNumber` and `columnNumber` are 0-based (V8's). */
  callFrame: { functionName: string, url: string, lineNumber: number, columnNumber?: number }
  children?: number[]
}

export interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface Share {
  name: string
  /** Self time in microseconds, and its share of all busy time. */
  selfUs: number
  share: number
}

export interface ProfileSummary {
  busyUs: number
  idleUs: number
  byFunction: Share[]
  byModule: Share[]
}

const IDLE = '(idle)'

/** Where a position of a generated file came from: its source's URL and 0-based line; null when unknown. */
export type SourceLookup = (url: string, line: number, column: number) => { url: string, line: number } | null

/**
 * The profile with each frame that `lookup` knows moved to its source: a broker run from its
 * bundle (broker/bundle.ts) names `dist/broker.mjs` in every frame, its source map the
 * `broker/router.ts` each function was written in, which the shares by module need.
 */
export function withSources (profile: CpuProfile, lookup: SourceLookup): CpuProfile {
  const nodes = profile.nodes.map((node) => {
    const f = node.callFrame
    const found = f.url === '' ? null : lookup(f.url, f.lineNumber, f.columnNumber ?? 0)
    return found === null ? node : { ...node, callFrame: { ...f, url: found.url, lineNumber: found.line } }
  })
  return { ...profile, nodes }
}

/** `broker/outbox.ts` from a file URL (or node:internal names as they are). */
export function moduleOf (url: string): string {
  if (url === '') return '(native)'
  const path = url.replace(/^file:\/\//, '')
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)
  if (pkg !== null) return `npm:${pkg[1] as string}`
  const inRepo = /\/((?:broker|lib|feeds|traders|bench)\/[^?]+)$/.exec(path)
  if (inRepo !== null) return inRepo[1] as string
  return path.startsWith('node:') ? path : path.split('/').slice(-2).join('/')
}

function frameName (node: ProfileNode): string {
  const f = node.callFrame
  const fn = f.functionName === '' ? '(anonymous)' : f.functionName
  return f.url === '' ? fn : `${fn} ${moduleOf(f.url)}:${f.lineNumber + 1}`
}

/** Self time per node id, in microseconds. */
function selfTimes (profile: CpuProfile): Map<number, number> {
  const self = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number
    self.set(id, (self.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0))
  }
  return self
}

function ranked (totals: Map<string, number>, busyUs: number, top: number): Share[] {
  return [...totals].map(([name, selfUs]) => ({ name, selfUs, share: busyUs === 0 ? 0 : selfUs / busyUs }))
    .sort((a, b) => b.selfUs - a.selfUs)
    .slice(0, top)
}

export function summarizeProfile (profile: CpuProfile, top = 25): ProfileSummary {
  const self = selfTimes(profile)
  let busyUs = 0
  let idleUs = 0
  const byFunction = new Map<string, number>()
  const byModule = new Map<string, number>()
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0
    if (us === 0) continue
    if (node.callFrame.functionName === IDLE) { idleUs += us; continue }
    busyUs += us
    const fn = frameName(node)
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us)
    const mod = node.callFrame.url === '' ? node.callFrame.functionName : moduleOf(node.callFrame.url)
    byModule.set(mod, (byModule.get(mod) ?? 0) + us)
  }
  return { busyUs, idleUs, byFunction: ranked(byFunction, busyUs, top), byModule: ranked(byModule, busyUs, top) }
}

interface FlameNode {
  name: string
  module: string
  totalUs: number
  children: Map<string, FlameNode>
}

/** Call stacks merged by frame name from the root, with total (self + descendants) busy time. */
function flameTree (profile: CpuProfile): FlameNode {
  const self = selfTimes(profile)
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const root: FlameNode = { name: 'all', module: '', totalUs: 0, children: new Map() }
  const walk = (id: number, into: FlameNode): number => {
    const node = byId.get(id)
    if (node === undefined || node.callFrame.functionName === IDLE) return 0
    const name = frameName(node)
    let flame = into.children.get(name)
    if (flame === undefined) {
      flame = { name, module: moduleOf(node.callFrame.url), totalUs: 0, children: new Map() }
      into.children.set(name, flame)
    }
    let total = self.get(id) ?? 0
    for (const child of node.children ?? []) total += walk(child, flame)
    flame.totalUs += total
    return total
  }
  const top = profile.nodes[0]
  if (top !== undefined) for (const child of top.children ?? []) root.totalUs += walk(child, root)
  return root
}


/** A warm colour per module, stable across runs (the same module is always the same colour). */
function colourOf (module: string): string {
  let h = 0
  for (let i = 0; i < module.length; i++) h = (h * 31 + module.charCodeAt(i)) >>> 0
  const broker = module.startsWith('broker/') || module.startsWith('lib/')
  return `hsl(${broker ? 20 + (h % 40) : 190 + (h % 60)}, 70%, ${60 + (h % 15)}%)`
}

/** The flame graph: the root at the bottom, each frame as wide as its share of busy time; a tooltip per frame. */
export function flameGraphSvg (profile: CpuProfile, title: string, width = 1200): string {
  const root = flameTree(profile)
  const rowHeight = 16
  const rects: string[] = []
  let depthMax = 0
  const draw = (node: FlameNode, x: number, depth: number): void => {
    const w = root.totalUs === 0 ? 0 : (node.totalUs / root.totalUs) * width
    if (w < 0.3) return
    depthMax = Math.max(depthMax, depth)
    rects.push(`<g><title>${escapeHtml(node.name)}: ${(100 * node.totalUs / Math.max(1, root.totalUs)).toFixed(2)}%</title>` +
      `<rect x="${x.toFixed(2)}" y="${depth}" width="${w.toFixed(2)}" height="${rowHeight - 1}" fill="${depth === 0 ? '#ccc' : colourOf(node.module)}"/>` +
      (w > 40 ? `<text x="${(x + 3).toFixed(2)}" y="${depth}" dy="11" font-size="10">${escapeHtml(node.name.slice(0, Math.floor(w / 6)))}</text>` : '') +
      '</g>')
    let cx = x
    for (const child of [...node.children.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      draw(child, cx, depth + 1)
      cx += root.totalUs === 0 ? 0 : (child.totalUs / root.totalUs) * width
    }
  }
  draw(root, 0, 0)
  const height = (depthMax + 1) * rowHeight + 24
  // Depths were drawn top-down; flip so the root sits at the bottom, as flame graphs do.
  const body = rects.map((r) => r.replace(/ y="(\d+)"/g, (_m, d: string) => ` y="${height - (Number(d) + 1) * rowHeight}"`)).join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace">` +
    `<text x="4" y="14" font-size="12">${escapeHtml(title)}</text>${body}</svg>\n`
}
