import pino, { type Logger } from 'pino'

export type { Logger }

/** One logger per process; components take children with their own bindings. */
export function createLogger (level: string, name = 'tickfan'): Logger {
  return pino({ name, level })
}
