/**
 * The dashboard with everything behind it, in this process: broker, feeds on three venues,
 * services, and the dashboard server. Used by the screenshot and soak tools.
 */
import { startBroker } from '../broker/server.ts'
import { startFeeds } from '../feeds/feeds.ts'
import type { Instrument } from '../feeds/instruments.ts'
import { startServices } from '../traders/services.ts'
import { startDashboard, type RunningDashboard } from './server.ts'

export interface DashboardStack {
  readonly dashboard: RunningDashboard
  close (): Promise<void>
}

export async function startDashboardStack (options: {
  instruments?: readonly Instrument[],
  ratePerSec: number,
  seed: number
}): Promise<DashboardStack> {
  const broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: 0, httpPort: 0, logLevel: 'silent' })
  const feeds = await startFeeds({ venues: ['binance', 'coinbase', 'kraken'], instruments: options.instruments, ratePerSec: options.ratePerSec, seed: options.seed, natsUrl: broker.natsUrl })
  const services = await startServices({ natsUrl: broker.natsUrl, priceMembers: 1, log: () => {} })
  const dashboard = await startDashboard({ port: 0, wsUrl: broker.wsUrl as string, varzUrl: `${broker.httpUrl as string}/varz` })
  return {
    dashboard,
    async close () {
      await dashboard.close()
      await services.close()
      await feeds.close()
      await broker.close()
    }
  }
}
