/**
 * The browser app: connects to the broker's WebSocket port with nats.js wsconnect (works
 * unchanged against nats-server with websocket enabled), subscribes to quotes, BBOs, trades,
 * arbitrage signals and bot statistics, and renders at most once per animation frame.
 */
import { wsconnect, type NatsConnection } from '@nats-io/nats-core'
import { createChart, LineSeries, type ISeriesApi, type UTCTimestamp } from 'lightweight-charts'
import { parseMarketData, type QuoteTick, type TradeTick } from '../../feeds/tick.ts'
import { MarketBoard } from './model.ts'
import { parseArbitrageSignal } from '../../traders/arbitrage.ts'
import { guardedCallback } from '../../lib/guarded-callback.ts'
import { escapeHtml } from '../../lib/html.ts'
import { parseMessage } from '../../lib/json-message.ts'
import { conflatedCount } from '../../lib/conflated-count.ts'

interface Config { wsUrl: string }
interface BotStats { group: string, latencyUs: { p50: number, p99: number } }
const BOT_STATS_FIELDS = { group: 'string', 'latencyUs.p50': 'number', 'latencyUs.p99': 'number' } as const
interface Varz {
  in_msgs: number,
  out_msgs: number,
  connections: number,
  slow_consumers: number,
  tickfan?: { conflated: number }
}

const board = new MarketBoard()
const $ = (id: string): HTMLElement => document.getElementById(id) as HTMLElement
/**
 * A string from the market (a symbol, a venue) as HTML text. The tick decoder already rejects
 * any that is not canonical (feeds/tick.ts); this keeps the page safe should one get past it.
 */
const esc = escapeHtml
let selected = 'BTC-USD'
let slowMs = 0
let fastBots: BotStats | null = null

// Exposed for the end-to-end test and for curious visitors.
;(window as unknown as { tickfan: unknown }).tickfan = { board, get slowMs () { return slowMs } }

function fmt (n: number): string {
  if (n >= 1000) return n.toFixed(2)
  if (n >= 1) return n.toFixed(4)
  return n.toPrecision(5)
}

// --- chart ---------------------------------------------------------------------------
const chart = createChart($('chart'), { layout: { background: { color: '#161c24' }, textColor: '#d8dee9' }, grid: { vertLines: { color: '#1f2731' }, horzLines: { color: '#1f2731' } }, timeScale: { timeVisible: true, secondsVisible: true } })
const VENUE_COLORS: Record<string, string> = { binance: '#f0b90b', coinbase: '#1652f0', kraken: '#8d5ff0' }
const series = new Map<string, ISeriesApi<'Line'>>()
function seriesFor (key: string, color: string, trades = false): ISeriesApi<'Line'> {
  let s = series.get(key)
  if (s === undefined) {
    s = chart.addSeries(LineSeries, trades ? { color, lineVisible: false, pointMarkersVisible: true, lastValueVisible: false, priceLineVisible: false } : { color, lineWidth: 1, lastValueVisible: false, priceLineVisible: false, lineStyle: key.endsWith('ask') ? 2 : 0 })
    series.set(key, s)
  }
  return s
}
function resetChart (): void {
  for (const s of series.values()) chart.removeSeries(s)
  series.clear()
  $('chart-title').textContent = `${selected}: bid (solid) and ask (dashed) by venue, trades as dots`
}
function chartQuote (q: QuoteTick): void {
  if (q.symbol !== selected) return
  const time = Math.floor(q.pubTime / 1000) as UTCTimestamp
  const color = VENUE_COLORS[q.venue] ?? '#888'
  seriesFor(`${q.venue} bid`, color).update({ time, value: q.bid })
  seriesFor(`${q.venue} ask`, color).update({ time, value: q.ask })
}
function chartTrade (t: TradeTick): void {
  if (t.symbol !== selected) return
  seriesFor('trades', '#e6edf3', true).update({ time: Math.floor(t.pubTime / 1000) as UTCTimestamp, value: t.price })
}

// --- rendering, once per animation frame ----------------------------------------------
let lastLayout = ''
/**
 * Rows on screen. A row scrolled out of view keeps its updates pending (they are last values:
 * only the newest matters) and shows the newest when it comes back, so the browser lays out and
 * paints only what can be seen (with 100 instruments most rows are off screen).
 */
const visibleRows = new Set<string>()
const rowObserver = new IntersectionObserver((entries) => {
  for (const e of entries) {
    const symbol = (e.target as HTMLElement).dataset.symbol as string
    if (e.isIntersecting) {
      visibleRows.add(symbol)
      for (const v of board.sortedVenues()) board.dirty.add(`${symbol}|${v}`)
      board.dirty.add(`bbo|${symbol}`)
      requestRender()
    } else {
      visibleRows.delete(symbol)
    }
  }
})
/** The instrument a dirty key belongs to ('' for keys that are not a board cell). */
function symbolOf (key: string): string {
  if (key.startsWith('bbo|')) return key.slice(4)
  const bar = key.indexOf('|')
  return bar < 0 ? '' : key.slice(0, bar)
}
/** Lays the table out again only when venues or instruments appear. */
function renderBoard (): void {
  const venues = board.sortedVenues()
  // A new instrument either adds to the count or drops the one updated longest ago (model.ts).
  const layout = `${venues.join()}/${board.symbols.size}/${board.symbols.evicted}`
  if (layout === lastLayout) return // nothing new to lay out: only cells change
  lastLayout = layout
  for (const symbol of board.dropped.splice(0)) {
    const row = document.getElementById(`row-${symbol}`)
    if (row === null || board.symbols.has(symbol)) continue // it came back since
    rowObserver.unobserve(row)
    visibleRows.delete(symbol)
    for (const key of [...venues, 'bbo'].map((v) => v === 'bbo' ? `bbo|${symbol}` : `${symbol}|${v}`)) {
      cellParts.delete(`c-${key}|bid`)
      cellParts.delete(`c-${key}|ask`)
    }
    row.remove()
  }
  const head = $('board').querySelector('thead') as HTMLElement
  head.innerHTML = `<tr><th class="sym">instrument</th>${venues.map((v) => `<th>${esc(v)} bid</th><th>${esc(v)} ask</th>`).join('')}<th>best bid</th><th>best ask</th></tr>`
  const body = $('board').querySelector('tbody') as HTMLElement
  for (const symbol of board.sortedSymbols()) {
    let row = document.getElementById(`row-${symbol}`)
    if (row === null || row.dataset.venues !== venues.join()) {
      const fresh = document.createElement('tr')
      fresh.id = `row-${symbol}`
      fresh.dataset.symbol = symbol
      fresh.dataset.venues = venues.join()
      const sym = esc(symbol)
      fresh.innerHTML = `<td class="sym">${sym}</td>${venues.map((v) => `<td id="c-${sym}|${esc(v)}|bid"></td><td id="c-${sym}|${esc(v)}|ask"></td>`).join('')}<td id="c-bbo|${sym}|bid"></td><td id="c-bbo|${sym}|ask"></td>`
      fresh.addEventListener('click', () => { selected = symbol; resetChart(); markSelected() })
      if (row !== null) rowObserver.unobserve(row)
      if (row === null) body.appendChild(fresh)
      else row.replaceWith(fresh)
      // Shown at once; the observer's first report (next frame) drops it if it is off screen.
      visibleRows.add(symbol)
      rowObserver.observe(fresh)
      row = fresh
      for (const v of venues) board.dirty.add(`${symbol}|${v}`)
      board.dirty.add(`bbo|${symbol}`)
    }
  }
  markSelected()
}
function markSelected (): void {
  for (const row of document.querySelectorAll('#board tbody tr')) row.classList.toggle('selected', row.id === `row-${selected}`)
}
/**
 * Updates one cell: its two spans are created once, then only their text changes (no HTML
 * parsing per update). A change lights the cell up or down for FLASH_MS: a class set now and
 * cleared by a later frame. (CSS colour animations on hundreds of cells repainted every one of
 * them in every frame: 13-16 frames/s in `npm run dashboard:soak`.)
 */
const cellParts = new Map<string, { cell: HTMLElement, main: HTMLElement, sub: HTMLElement }>()
const FLASH_MS = 600
/** Cells lit up, and when each goes back to normal. */
const flashing = new Map<HTMLElement, number>()
function setCell (id: string, main: string, sub: string, dir: string | null, extraClass = ''): void {
  let parts = cellParts.get(id)
  if (parts === undefined || !parts.cell.isConnected) {
    const cell = document.getElementById(id)
    if (cell === null) return
    cell.textContent = ''
    const m = document.createElement('span')
    const s = document.createElement('span')
    s.className = 'size'
    cell.append(m, s)
    parts = { cell, main: m, sub: s }
    cellParts.set(id, parts)
  }
  if (parts.main.textContent !== main) parts.main.textContent = main
  if (parts.sub.textContent !== sub) parts.sub.textContent = sub
  if (parts.main.className !== extraClass) parts.main.className = extraClass
  if (dir !== null) {
    if (parts.cell.className !== dir) parts.cell.className = dir
    flashing.set(parts.cell, performance.now() + FLASH_MS)
  }
}
/** Puts cells whose flash is over back to normal; keeps frames coming while any is lit. */
function endFlashes (now: number): void {
  for (const [cell, until] of flashing) {
    if (until > now) continue
    cell.className = ''
    flashing.delete(cell)
  }
  if (flashing.size > 0) requestRender()
}
let frameRequested = false
function requestRender (): void {
  if (frameRequested) return
  frameRequested = true
  requestAnimationFrame(render)
}
function render (now: number): void {
  frameRequested = false
  renderBoard()
  for (const key of board.takeDirty()) {
    if (key === 'alerts') { renderAlerts(); continue }
    const symbol = symbolOf(key)
    if (symbol !== '' && !visibleRows.has(symbol)) { deferred.push(key); continue }
    if (key.startsWith('bbo|')) {
      const b = board.bbo.get(key.slice(4))
      if (b === undefined) continue
      const cls = b.crossed ? 'crossed' : ''
      setCell(`c-${key}|bid`, fmt(b.bid), b.bidVenue, null, cls)
      setCell(`c-${key}|ask`, fmt(b.ask), b.askVenue, null, cls)
      continue
    }
    const cell = board.cells.get(key)
    if (cell === undefined) continue
    setCell(`c-${key}|bid`, fmt(cell.quote.bid), String(cell.quote.bidSize), cell.bidDir)
    setCell(`c-${key}|ask`, fmt(cell.quote.ask), String(cell.quote.askSize), cell.askDir)
  }
  // Rows off screen keep their updates for when they come into view.
  for (const key of deferred) board.dirty.add(key)
  deferred.length = 0
  endFlashes(now)
}
const deferred: string[] = []
function renderAlerts (): void {
  $('alerts').innerHTML = board.alerts.map((a) => `<li>${new Date(a.at).toLocaleTimeString()} ${esc(a.symbol)} ${a.state === 'closed' ? 'closed' : `buy ${esc(a.buyVenue)} ${fmt(a.buyPrice)}, sell ${esc(a.sellVenue)} ${fmt(a.sellPrice)}: ${a.edgeBps.toFixed(2)} bps`}</li>`).join('')
}
function stat (label: string, value: string, id?: string): string {
  return `<div class="stat"${id === undefined ? '' : ` id="${id}"`}><b>${value}</b><span>${label}</span></div>`
}

// --- broker health (via the dashboard server's /api/varz) and this browser's numbers -----
let lastVarz: { v: Varz, at: number } | null = null
async function pollHealth (): Promise<void> {
  try {
    const v = await (await fetch('/api/varz')).json() as Varz
    const now = Date.now()
    if (lastVarz !== null) {
      const secs = (now - lastVarz.at) / 1000
      const rate = (a: number, b: number): string => Math.round((a - b) / secs).toLocaleString('en-US')
      $('broker').innerHTML = [
        stat('ticks in /s', rate(v.in_msgs, lastVarz.v.in_msgs)),
        stat('deliveries /s', rate(v.out_msgs, lastVarz.v.out_msgs)),
        stat('connections', String(v.connections)),
        stat('conflated /s', v.tickfan === undefined || lastVarz.v.tickfan === undefined ? 'n/a' : rate(v.tickfan.conflated, lastVarz.v.tickfan.conflated)),
        stat('slow-consumer disconnects', String(v.slow_consumers)),
        stat('bots p50 / p99', fastBots === null ? '-' : `${(fastBots.latencyUs.p50 / 1000).toFixed(1)} / ${(fastBots.latencyUs.p99 / 1000).toFixed(1)} ms`)
      ].join('')
    }
    lastVarz = { v, at: now }
  } catch {
    $('broker').innerHTML = stat('broker health', 'unavailable')
  }
  const s = board.staleness(Date.now())
  $('me').innerHTML = [
    stat('latency p50 / p99', `${board.latencyMs.percentile(50).toFixed(0)} / ${board.latencyMs.percentile(99).toFixed(0)} ms`, 'me-latency'),
    stat('staleness p50 / max', `${s.p50.toFixed(0)} / ${s.max.toFixed(0)} ms`, 'me-staleness'),
    stat('updates skipped (conflated)', board.skipped.toLocaleString('en-US'), 'me-skipped'),
    stat('messages received', board.received.toLocaleString('en-US')),
    stat('mode', slowMs > 0 ? `slow (${slowMs} ms/msg)` : 'fast'),
    stat('decode errors', String(board.decodeErrors))
  ].join('')
}

// --- connection --------------------------------------------------------------------------
function busy (ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) { /* slow consumer: the socket is not read meanwhile */ }
}

function subscribe (nc: NatsConnection): void {
  const onData = (subject: string, data: Uint8Array, skippedHeader: string | undefined): void => {
    if (slowMs > 0) busy(slowMs)
    const now = Date.now()
    if (subject.startsWith('signal.arbitrage.')) {
      const decoded = parseArbitrageSignal(data)
      if (!decoded.ok) { board.decodeErrors++; return }
      board.onAlert(decoded.signal)
      requestRender()
      return
    }
    if (subject.startsWith('stats.traders.')) {
      const s = parseMessage<BotStats>(data, BOT_STATS_FIELDS)
      if (!s.ok) { board.decodeErrors++; return }
      if (s.value.group === 'fast') fastBots = s.value
      return
    }
    const decoded = parseMarketData(data)
    if (!decoded.ok) { board.decodeErrors++; return }
    const t = decoded.tick
    if (t.type === 'quote') {
      // A count that is not the broker's (a server that relays any header) is counted as an error, not summed.
      const skipped = conflatedCount(skippedHeader)
      if (skipped === null) board.decodeErrors++
      board.onQuote(t, now, skipped ?? 0)
      chartQuote(t)
    } else if (t.type === 'bbo') {
      board.onBbo(t)
    } else {
      board.onTrade(t)
      chartTrade(t)
    }
    requestRender()
  }
  for (const subject of ['quote.*.*', 'bbo.*', 'trade.*.*', 'signal.arbitrage.*', 'stats.traders.*']) {
    // Guarded: nats.js stops reading a connection whose callback threw (lib/guarded-callback.ts).
    nc.subscribe(subject, { callback: guardedCallback((m) => { onData(m.subject, m.data, m.headers?.get('Tickfan-Conflated')) }, () => { board.decodeErrors++ }) })
  }
}

async function main (): Promise<void> {
  const config = await (await fetch('/config.json')).json() as Config
  resetChart()
  const nc = await wsconnect({ servers: config.wsUrl, name: 'tickfan-dashboard', reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 500, waitOnFirstConnect: true })
  $('status').textContent = `connected to ${config.wsUrl}`
  subscribe(nc)
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnecting') { $('banner').classList.add('show'); $('status').textContent = 'reconnecting...' }
      if (s.type === 'reconnect') { $('banner').classList.remove('show'); $('status').textContent = `connected to ${config.wsUrl}` }
    }
  })()
  setInterval(() => { void pollHealth() }, 1000)
  $('slow').addEventListener('click', () => {
    // 5 ms per message: far slower than the quotes arrive (so the broker conflates them), yet
    // faster than the trades, which are never conflated and would otherwise queue in order.
    slowMs = slowMs > 0 ? 0 : 5
    $('slow').classList.toggle('on', slowMs > 0)
    $('slow').textContent = slowMs > 0 ? 'Back to fast' : 'Slow me down'
  })
}

main().catch((err: unknown) => { $('status').textContent = `error: ${String(err)}`; $('banner').classList.add('show') })
