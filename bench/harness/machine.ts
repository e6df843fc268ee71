/**
 * What else loaded the machine during a run: the 1-minute load average and the CPU time
 * counters of /proc/stat (steal is time a virtual machine waited for its host), and the CPU
 * time every other process on the machine used meanwhile.
 */
import { readdirSync, readFileSync } from 'node:fs'
import os from 'node:os'
import { processTree } from './processes.ts'

export interface MachineLoad {
  loadAverage1m: number
  /** Cumulative jiffies from /proc/stat's cpu line, or null off Linux. */
  totalJiffies: number | null
  stealJiffies: number | null
}

function read (): MachineLoad {
  let totalJiffies: number | null = null
  let stealJiffies: number | null = null
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string).trim().split(/\s+/).slice(1).map(Number)
    totalJiffies = fields.reduce((a, b) => a + b, 0)
    stealJiffies = fields[7] ?? 0
  } catch { /* not Linux */ }
  return { loadAverage1m: os.loadavg()[0] as number, totalJiffies, stealJiffies }
}

/**
 * CPU time of every process on the machine outside the trees rooted at `ours`, in seconds, from
 * /proc/<pid>/stat (user + system). Kernel work on behalf of the run (loopback networking in
 * softirq) belongs to no process and is not counted: it is the run's own load, not another's.
 */
export function otherProcessesCpuSeconds (ours: readonly number[]): number {
  const mine = new Set(ours.flatMap((pid) => processTree(pid)))
  let total = 0
  let pids: string[]
  try { pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)) } catch { return 0 }
  for (const d of pids) {
    const pid = Number(d)
    if (mine.has(pid)) continue
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      total += (Number(fields[11]) + Number(fields[12])) / 100
    } catch { /* exited meanwhile */ }
  }
  return total
}

/** Share of CPU time stolen between two readings (0 when unknown). */
function steal (a: MachineLoad, b: MachineLoad): number {
  if (a.totalJiffies === null || b.totalJiffies === null || a.stealJiffies === null || b.stealJiffies === null) return 0
  const total = b.totalJiffies - a.totalJiffies
  return total <= 0 ? 0 : (b.stealJiffies - a.stealJiffies) / total
}

export const machineLoad = Object.assign(read, { steal })
