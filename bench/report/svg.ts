/**
 * Small SVG line and bar charts for the self-contained report: no script, no CDN, readable
 * offline and in a code review.
 */
import { escapeHtml } from '../../lib/html.ts'

export interface Series {
  name: string
  color: string
  points: Array<[number, number]>
  dashed?: boolean
}

const W = 640
const H = 300
const M = { left: 64, right: 16, top: 28, bottom: 44 }


function niceTicks (min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min]
  const step = 10 ** Math.floor(Math.log10((max - min) / count))
  const err = (max - min) / count / step
  const mult = err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1
  const s = step * mult
  const ticks: number[] = []
  for (let v = Math.ceil(min / s) * s; v <= max + s * 1e-9; v += s) ticks.push(Number(v.toPrecision(12)))
  return ticks
}

export interface LineChartOptions {
  title: string
  xLabel: string
  yLabel: string
  logX?: boolean
  logY?: boolean
  xTickFormat?: (v: number) => string
  yTickFormat?: (v: number) => string
}

export function lineChart (series: readonly Series[], o: LineChartOptions): string {
  const drawable = ([x, y]: readonly [number, number]): boolean =>
    Number.isFinite(x) && Number.isFinite(y) && (!o.logX || x > 0) && (!o.logY || y > 0)
  const all = series.flatMap((s) => s.points).filter(drawable)
  if (all.length === 0) return `<svg width="${W}" height="60" xmlns="http://www.w3.org/2000/svg"><text x="10" y="30">${escapeHtml(o.title)}: no data</text></svg>`
  const tx = (v: number): number => (o.logX ? Math.log10(v) : v)
  const ty = (v: number): number => (o.logY ? Math.log10(v) : v)
  let x0 = Math.min(...all.map(([x]) => tx(x)))
  let x1 = Math.max(...all.map(([x]) => tx(x)))
  const y0 = o.logY ? Math.min(...all.map(([, y]) => ty(y))) : Math.min(0, ...all.map(([, y]) => y))
  let y1 = Math.max(...all.map(([, y]) => ty(y)))
  if (x1 === x0) { x0 -= 1; x1 += 1 }
  if (y1 === y0) { y1 = y0 + 1 }
  const px = (v: number): number => M.left + (tx(v) - x0) / (x1 - x0) * (W - M.left - M.right)
  const py = (v: number): number => H - M.bottom - (ty(v) - y0) / (y1 - y0) * (H - M.top - M.bottom)
  const fx = o.xTickFormat ?? ((v: number) => String(v))
  const fy = o.yTickFormat ?? ((v: number) => String(v))
  const xTicks = o.logX ? niceTicks(
    Math.floor(x0),
    Math.ceil(x1)
  ).filter(Number.isInteger).map((e) => 10 ** e) : niceTicks(x0, x1)
  const yTicks = o.logY ? niceTicks(
    Math.floor(y0),
    Math.ceil(y1)
  ).filter(Number.isInteger).map((e) => 10 ** e) : niceTicks(y0, y1)
  const parts: string[] = [
    `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="11">`,
    `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13" font-weight="600">${escapeHtml(o.title)}</text>`
  ]
  for (const t of xTicks) {
    if (tx(t) < x0 - 1e-9 || tx(t) > x1 + 1e-9) continue
    parts.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${M.top}" y2="${H - M.bottom}" stroke="#eee"/><text x="${px(t)}" y="${H - M.bottom + 14}" text-anchor="middle">${escapeHtml(fx(t))}</text>`)
  }
  for (const t of yTicks) {
    if (ty(t) < y0 - 1e-9 || ty(t) > y1 + 1e-9) continue
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py(t)}" y2="${py(t)}" stroke="#eee"/><text x="${M.left - 6}" y="${py(t) + 4}" text-anchor="end">${escapeHtml(fy(t))}</text>`)
  }
  parts.push(`<text x="${W / 2}" y="${H - 8}" text-anchor="middle">${escapeHtml(o.xLabel)}</text>`)
  parts.push(`<text x="14" y="${H / 2}" text-anchor="middle" transform="rotate(-90 14 ${H / 2})">${escapeHtml(o.yLabel)}</text>`)
  series.forEach((s, k) => {
    const pts = s.points.filter(drawable)
    if (pts.length > 0) {
      parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="5 4"' : ''} points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`)
      for (const [x, y] of pts.length <= 12 ? pts : []) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${s.color}"/>`)
    }
    parts.push(`<rect x="${M.left + 8 + k * 150}" y="${M.top + 4}" width="10" height="10" fill="${s.color}"/><text x="${M.left + 22 + k * 150}" y="${M.top + 13}">${escapeHtml(s.name)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('')
}

export function barChart (
  bars: ReadonlyArray<{ label: string, value: number, color: string }>,
  o: { title: string, yLabel: string, reference?: number }
): string {
  if (bars.length === 0) return ''
  const max = Math.max(o.reference ?? 0, ...bars.map((b) => b.value)) || 1
  const bw = (W - M.left - M.right) / bars.length
  const py = (v: number): number => H - M.bottom - v / max * (H - M.top - M.bottom)
  const parts = [
    `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="11">`,
    `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13" font-weight="600">${escapeHtml(o.title)}</text>`,
    `<text x="14" y="${H / 2}" text-anchor="middle" transform="rotate(-90 14 ${H / 2})">${escapeHtml(o.yLabel)}</text>`
  ]
  for (const t of niceTicks(0, max)) parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py(t)}" y2="${py(t)}" stroke="#eee"/><text x="${M.left - 6}" y="${py(t) + 4}" text-anchor="end">${t}</text>`)
  bars.forEach((b, i) => {
    const x = M.left + i * bw
    parts.push(`<rect x="${(x + bw * 0.1).toFixed(1)}" y="${py(b.value).toFixed(1)}" width="${(bw * 0.8).toFixed(1)}" height="${(H - M.bottom - py(b.value)).toFixed(1)}" fill="${b.color}"><title>${escapeHtml(b.label)}: ${b.value}</title></rect>`)
    if (bars.length <= 16) parts.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${H - M.bottom + 14}" text-anchor="middle">${escapeHtml(b.label)}</text>`)
  })
  if (o.reference !== undefined) parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py(o.reference)}" y2="${py(o.reference)}" stroke="#333" stroke-dasharray="4 3"/>`)
  parts.push('</svg>')
  return parts.join('')
}
