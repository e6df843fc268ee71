/**
 * A CPU cap for a broker under test: a Linux control group whose CPU quota is a share of one
 * core, which every broker a run starts joins before it executes. On a machine too small for
 * the load generators to outrun a broker (2 cores: one for the broker, one for all the load),
 * capping each broker at the same share makes the broker the bottleneck again, so a maximum
 * rate search ends at the broker's limit rather than the generators'. The cap counts every
 * thread of the process (V8's helpers, Go's runtime), as the kernel does.
 *
 * cgroup v1 (a `cpu` hierarchy) and v2 (a unified one with the cpu controller) are both served;
 * where neither can be written (not root, a read-only mount), `open` fails saying why.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'

/** The quota's period: short, so a capped broker waits at most a few ms for its next slice. */
export const CAP_PERIOD_US = 10_000
/** The same, in ms, as the suite's `--broker-cpu-period-ms` and its report say it. */
export const CAP_PERIOD_MS = CAP_PERIOD_US / 1000
/** The periods the kernel takes: 1 ms to 1 s. */
const MIN_PERIOD_US = 1000
const MAX_PERIOD_US = 1_000_000

export class CpuCapError extends Error {}

/**
 * The share of its cap a broker used: `cpuSeconds` of CPU over `seconds` of wall time, against
 * `share` of a core; null where either is unknown. Near 1, the broker spent all the cap allowed:
 * its CPU per delivery is then the cap divided by its deliveries per second (two brokers at
 * their caps show the same CPU per delivery at the same rate, whatever their work costs), so
 * it measures what the broker delivers within a fixed CPU, not what a delivery costs.
 */
export function capShareUsed (cpuSeconds: number | null, seconds: number, share: number | undefined): number | null {
  if (cpuSeconds === null || share === undefined || share <= 0 || !(seconds > 0)) return null
  return cpuSeconds / seconds / share
}

/** `capUsed` (capShareUsed) as the summary and progress lines say it: "98% of its cap"; '' uncapped. */
export function capUsedText (used: number | null | undefined): string {
  return used == null ? '' : `${(used * 100).toFixed(0)}% of its cap`
}

const NEEDS = '--broker-cpu needs root and a writable cgroup CPU controller'

export interface CapQuota { quotaUs: number, periodUs: number }

/** The quota for `share` of one core per period, checked: a share is above 0 and at most `cores`. */
export function capQuota (share: number, cores: number, periodUs = CAP_PERIOD_US): CapQuota {
  if (!Number.isFinite(share) || share <= 0) throw new CpuCapError(`a CPU cap is a share of one core above 0, not ${share}`)
  if (share > cores) throw new CpuCapError(`a CPU cap of ${share} cores is more than this machine's ${cores}`)
  if (!Number.isInteger(periodUs) || periodUs < MIN_PERIOD_US || periodUs > MAX_PERIOD_US) {
    throw new CpuCapError(`a CPU cap's period is 1 to 1,000 ms in whole microseconds, not ${periodUs / 1000} ms`)
  }
  // The kernel takes no quota under 1 ms.
  return { quotaUs: Math.max(1000, Math.round(share * periodUs)), periodUs }
}

interface Hierarchy { version: 1 | 2, root: string }

function findHierarchy (mounts = '/sys/fs/cgroup'): Hierarchy | null {
  if (existsSync(path.join(mounts, 'cpu', 'cpu.cfs_quota_us'))) return { version: 1, root: path.join(mounts, 'cpu') }
  if (existsSync(path.join(mounts, 'cgroup.controllers'))) return { version: 2, root: mounts }
  return null
}

export class CpuCap {
  readonly share: number
  /** The quota's period, in microseconds. */
  readonly periodUs: number
  readonly #dir: string
  readonly #procs: string

  private constructor (share: number, periodUs: number, dir: string) {
    this.share = share
    this.periodUs = periodUs
    this.#dir = dir
    this.#procs = path.join(dir, 'cgroup.procs')
  }

  /**
   * Makes the control group, its quota `share` of each `periodUs` (10 ms unless given; Kubernetes
   * and systemd use 100 ms). Throws CpuCapError with the reason where the kernel will not.
   */
  static open (share: number, cores: number, name = `tickfan-bench-${process.pid}`, period = CAP_PERIOD_US): CpuCap {
    const { quotaUs, periodUs } = capQuota(share, cores, period)
    const h = findHierarchy()
    if (h === null) throw new CpuCapError('no cgroup CPU controller at /sys/fs/cgroup (Linux only): run without --broker-cpu')
    const dir = path.join(h.root, name)
    try {
      if (h.version === 2) {
        const controllers = readFileSync(path.join(h.root, 'cgroup.subtree_control'), 'utf8')
        if (!controllers.split(' ').map((c) => c.trim()).includes('cpu')) writeFileSync(path.join(h.root, 'cgroup.subtree_control'), '+cpu')
      }
      mkdirSync(dir, { recursive: true })
      if (h.version === 1) {
        writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(periodUs))
        writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(quotaUs))
      } else {
        writeFileSync(path.join(dir, 'cpu.max'), `${quotaUs} ${periodUs}`)
      }
    } catch (err) {
      try { rmdirSync(dir) } catch { /* never made */ }
      throw new CpuCapError(`cannot make a CPU-capped control group at ${dir} (${(err as Error).message}): ${NEEDS}`)
    }
    const cap = new CpuCap(share, periodUs, dir)
    // Joining can fail where making the group did not (cgroup v2's delegation rules): tried once here.
    const [sh, ...args] = cap.prefix()
    const tried = spawnSync(sh as string, [...args, 'true'], { encoding: 'utf8' })
    if (tried.status !== 0) {
      cap.close()
      throw new CpuCapError(`cannot move a process into ${dir} (${tried.stderr.trim() || `exit ${tried.status}`}): ${NEEDS}`)
    }
    return cap
  }

  /**
   * The command prefix that puts what follows into the group before it runs: a shell writes its
   * own pid into the group, then becomes the command (same pid, so its CPU is still read there).
   */
  prefix (): string[] {
    return ['sh', '-c', 'echo $$ > "$0" && exec "$@"', this.#procs]
  }

  /** Removes the group; its processes must have exited. */
  close (): void {
    try { rmdirSync(this.#dir) } catch { /* still in use or gone: the kernel removes nothing else */ }
  }
}
