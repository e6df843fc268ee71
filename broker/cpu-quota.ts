/**
 * The CPU quota this process runs under, in cores: what a container's CPU limit (Kubernetes'
 * `limits.cpu`, `docker run --cpus`) or a systemd `CPUQuota=` sets, through a Linux control
 * group. The kernel lets the group's threads, all of them together, run that many cores' worth
 * of time per period, then stops them until the next period. The tightest quota of the process's
 * group and the groups above it applies. cgroup v2 (`cpu.max`) and v1 (`cpu.cfs_quota_us` over
 * `cpu.cfs_period_us`) are both read. The parsers are pure; the reader takes the file reader as
 * a parameter, so tests give it a made-up /proc and /sys.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'

export type ReadText = (file: string) => string

/** cgroup v2 `cpu.max` ("max 100000" or "25000 100000"): cores, or null for no quota. */
export function parseCpuMax (text: string): number | null {
  const [quota, period] = text.trim().split(/\s+/)
  if (quota === undefined || quota === 'max') return null
  return cores(Number(quota), Number(period ?? 100_000))
}

/** cgroup v1 `cpu.cfs_quota_us` (-1: none) and `cpu.cfs_period_us`: cores, or null for no quota. */
export function parseCfsQuota (quotaText: string, periodText: string): number | null {
  return cores(Number(quotaText.trim()), Number(periodText.trim()))
}

function cores (quotaUs: number, periodUs: number): number | null {
  if (!Number.isFinite(quotaUs) || !Number.isFinite(periodUs) || quotaUs <= 0 || periodUs <= 0) return null
  return quotaUs / periodUs
}

/**
 * Where the process's CPU controller is, from /proc/self/cgroup: the v1 line that names `cpu`
 * among its controllers, else the v2 line ("0::/path").
 */
export function cpuGroup (procSelfCgroup: string): { version: 1 | 2, group: string } | null {
  let v2: string | null = null
  for (const line of procSelfCgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim())
    if (m === null) continue
    if (m[1] === '0' && m[2] === '') v2 = m[3] as string
    else if ((m[2] as string).split(',').includes('cpu')) return { version: 1, group: m[3] as string }
  }
  return v2 === null ? null : { version: 2, group: v2 }
}

/** A path as mountinfo writes it: a space, tab, newline or backslash as a backslash and three octal digits. */
function unescapeMountPath (p: string): string {
  return p.replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}

/** A mounted cgroup hierarchy with the CPU controller: where it is mounted, and which group its root is. */
export interface CpuMount { version: 1 | 2, mountPoint: string, root: string }

/**
 * The CPU controller's mounts, from /proc/self/mountinfo ("id parent dev root mount-point options
 * ... - type source super-options"). A container without its own cgroup namespace sees its group
 * at the mount point, and the mount's root field names that group.
 */
export function cpuMounts (mountinfo: string): CpuMount[] {
  const mounts: CpuMount[] = []
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ')
    if (before === undefined || after === undefined) continue
    const fields = before.split(' ')
    const [type, , superOptions = ''] = after.split(' ')
    const root = unescapeMountPath(fields[3] ?? '/')
    const mountPoint = unescapeMountPath(fields[4] ?? '')
    if (type === 'cgroup2') mounts.push({ version: 2, mountPoint, root })
    else if (type === 'cgroup' && superOptions.split(',').includes('cpu')) mounts.push({ version: 1, mountPoint, root })
  }
  return mounts
}

/** The directory of `group` under `mount`, and each one above it up to the mount point. */
function upwards (mount: CpuMount, group: string): string[] {
  const root = path.posix.normalize(mount.root)
  let inside = path.posix.normalize(`/${group}`)
  if (root !== '/' && (inside === root || inside.startsWith(`${root}/`))) inside = inside.slice(root.length) || '/'
  const dirs: string[] = []
  for (let g = inside; ; g = path.posix.dirname(g)) {
    dirs.push(path.join(mount.mountPoint, g))
    if (g === '/') return dirs
  }
}

/**
 * The tightest CPU quota over this process's control group and those above it that it can see,
 * in cores; null where none is set or none can be read (not Linux, no cgroup file system).
 */
export function cpuQuotaCores (read: ReadText = (file) => readFileSync(file, 'utf8')): number | null {
  let where: ReturnType<typeof cpuGroup>
  let mounts: CpuMount[]
  try {
    where = cpuGroup(read('/proc/self/cgroup'))
    mounts = cpuMounts(read('/proc/self/mountinfo'))
  } catch {
    return null
  }
  if (where === null) return null
  let tightest: number | null = null
  for (const mount of mounts.filter((m) => m.version === where.version)) {
    for (const dir of upwards(mount, where.group)) {
      let quota: number | null
      try {
        quota = where.version === 2
          ? parseCpuMax(read(path.join(dir, 'cpu.max')))
          : parseCfsQuota(read(path.join(dir, 'cpu.cfs_quota_us')), read(path.join(dir, 'cpu.cfs_period_us')))
      } catch {
        continue // not there (or not readable): the group above may still say
      }
      if (quota !== null && (tightest === null || quota < tightest)) tightest = quota
    }
  }
  return tightest
}
