/**
 * What a simulated venue must implement: the venue's subscribe protocol (server side), its
 * message encodings, and its heartbeat. The generic WebSocket server (`venue-server.ts`)
 * drives one of these.
 */
import type { Instrument, Venue } from '../instruments.ts'
import type { MarketEvent } from '../market-model.ts'

/** A market event with what the venue stamps on it once, for every subscriber alike. */
export interface StampedEvent {
  event: MarketEvent
  /** Venue timestamp, ms since epoch (fractional). */
  venueTimeMs: number
  /** Per-instrument update id (quotes) or trade id (trades), increasing. */
  id: number
}

/** One client connection's state at the venue. */
export interface VenueSession {
  /** `channel:venueSymbol` keys this session is subscribed to. */
  readonly subscriptions: Set<string>
  /** Messages sent on this connection (Coinbase's sequence_num). */
  sent: number
  /** Venue-specific flags (Binance: combined-stream wrapping). */
  combined: boolean
  /** Channels that sent their snapshot already (Coinbase, Kraken: first message is a snapshot). */
  readonly snapshotSent: Set<string>
}

export interface VenueServerProtocol {
  readonly venue: Venue
  /** Handles a connect URL (Binance `/stream?streams=...`); returns nothing to send. */
  onConnect (url: URL, session: VenueSession, instruments: readonly Instrument[]): string[]
  /** Handles a client text message; returns the replies (acks or errors). */
  onClientMessage (text: string, session: VenueSession, instruments: readonly Instrument[]): string[]
  /** The subscription key an event goes to. */
  keyOf (event: MarketEvent): string
  /** The event as this venue would send it on `session`. */
  encode (stamped: StampedEvent, session: VenueSession): string
  /** An application heartbeat for `session`, or null if the venue has none. */
  heartbeat (session: VenueSession, nowMs: number): string | null
}

export function newSession (): VenueSession {
  return { subscriptions: new Set(), sent: 0, combined: false, snapshotSent: new Set() }
}

/** RFC 3339 with the given fractional digits (Coinbase 9, Kraken 6), from epoch ms. */
export function rfc3339 (epochMs: number, digits: 6 | 9): string {
  const whole = Math.floor(epochMs)
  const iso = new Date(whole).toISOString() // ...T12:34:56.789Z
  const subMs = Math.floor((epochMs - whole) * 10 ** (digits - 3))
  return `${iso.slice(0, -1)}${String(subMs).padStart(digits - 3, '0')}Z`
}
