/**
 * What else loaded the machine during a run: the 1-minute load average and the CPU time
 * counters of /proc/stat (steal is time a virtual machine waited for its host). The machine's
 * busy time minus what the run's own processes used is what other processes took.
 */
import { readFileSync } from 'node:fs'
import os from 'node:os'

export interface MachineLoad {
  loadAverage1m: number
  /** Cumulative jiffies from /proc/stat's cpu line, or null off Linux. */
  totalJiffies: number | null
  stealJiffies: number | null
  /** Idle and iowait jiffies. */
  idleJiffies: number | null
}

function read (): MachineLoad {
  let totalJiffies: number | null = null
  let stealJiffies: number | null = null
  let idleJiffies: number | null = null
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string).trim().split(/\s+/).slice(1).map(Number)
    totalJiffies = fields.reduce((a, b) => a + b, 0)
    stealJiffies = fields[7] ?? 0
    idleJiffies = (fields[3] ?? 0) + (fields[4] ?? 0)
  } catch { /* not Linux */ }
  return { loadAverage1m: os.loadavg()[0] as number, totalJiffies, stealJiffies, idleJiffies }
}

/** CPU-seconds the whole machine was busy between two readings (every core; 0 when unknown). */
function busySeconds (a: MachineLoad, b: MachineLoad): number {
  if (a.totalJiffies === null || b.totalJiffies === null || a.idleJiffies === null || b.idleJiffies === null) return 0
  return ((b.totalJiffies - a.totalJiffies) - (b.idleJiffies - a.idleJiffies)) / 100 // USER_HZ
}

/** Share of CPU time stolen between two readings (0 when unknown). */
function steal (a: MachineLoad, b: MachineLoad): number {
  if (a.totalJiffies === null || b.totalJiffies === null || a.stealJiffies === null || b.stealJiffies === null) return 0
  const total = b.totalJiffies - a.totalJiffies
  return total <= 0 ? 0 : (b.stealJiffies - a.stealJiffies) / total
}

export const machineLoad = Object.assign(read, { steal, busySeconds })
