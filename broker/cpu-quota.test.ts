import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CpuCap, CpuCapError } from '../bench/harness/cpu-cap.ts'
import { cpuGroup, cpuMounts, cpuQuotaCores, parseCfsQuota, parseCpuMax } from './cpu-quota.ts'
import { SINGLE_THREADED_GC_FLAG } from './process-settings.ts'
import { startBrokerCommand } from './test-support/processes.ts'

/** A file reader over made-up files; any other path is missing, as readFileSync says. */
function files (entries: Record<string, string>): (file: string) => string {
  return (file) => {
    const text = entries[file]
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' })
    return text
  }
}

describe('reading a CPU quota', () => {
  it('parses cgroup v2 cpu.max and v1 cfs files into cores, and no quota into null', () => {
    expect(parseCpuMax('max 100000\n')).toBeNull()
    expect(parseCpuMax('25000 100000\n')).toBe(0.25)
    expect(parseCpuMax('150000 100000')).toBe(1.5)
    expect(parseCfsQuota('-1\n', '100000\n')).toBeNull()
    expect(parseCfsQuota('50000\n', '100000\n')).toBe(0.5)
    expect(parseCfsQuota('garbage', '100000')).toBeNull()
    const micros = (max: number): fc.Arbitrary<number> => fc.integer({ min: 1000, max })
    fc.assert(fc.property(micros(10_000_000), micros(1_000_000), (quota, period) => {
      expect(parseCpuMax(`${quota} ${period}\n`)).toBeCloseTo(quota / period, 12)
      expect(parseCfsQuota(`${quota}\n`, `${period}\n`)).toBeCloseTo(quota / period, 12)
    }))
  })

  it('finds the cpu controller\'s group in /proc/self/cgroup, v1 before v2', () => {
    expect(cpuGroup('0::/kubepods/pod1/abc\n')).toEqual({ version: 2, group: '/kubepods/pod1/abc' })
    expect(cpuGroup('4:memory:/x\n3:cpu,cpuacct:/docker/abc\n0::/\n')).toEqual({ version: 1, group: '/docker/abc' })
    expect(cpuGroup('1:name=systemd:/\n')).toBeNull()
  })

  it('finds the CPU controller\'s mounts and the group at each one\'s root in /proc/self/mountinfo', () => {
    const mountinfo = [
      '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
      '32 31 0:29 /docker/abc /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct',
      '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
      '40 23 0:40 / /mnt/my\\040cgroups rw shared:9 - cgroup2 cgroup2 rw,nsdelegate'
    ].join('\n')
    expect(cpuMounts(mountinfo)).toEqual([
      { version: 1, mountPoint: '/sys/fs/cgroup/cpu,cpuacct', root: '/docker/abc' },
      { version: 2, mountPoint: '/mnt/my cgroups', root: '/' }
    ])
  })

  const V2_MOUNT = '30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n'

  it('takes the tightest quota of the group and the groups above it (v2)', () => {
    const read = files({
      '/proc/self/mountinfo': V2_MOUNT,
      '/proc/self/cgroup': '0::/kubepods/pod1/abc\n',
      '/sys/fs/cgroup/cpu.max': 'max 100000\n',
      '/sys/fs/cgroup/kubepods/pod1/cpu.max': '50000 100000\n',
      '/sys/fs/cgroup/kubepods/pod1/abc/cpu.max': '200000 100000\n'
    })
    expect(cpuQuotaCores(read)).toBe(0.5)
  })

  it('reads a container\'s group at the mount point where the mount\'s root is that group (v1, no cgroup namespace)', () => {
    const mounted = {
      '/proc/self/mountinfo': '32 31 0:29 /docker/abc /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '50000\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n'
    }
    expect(cpuQuotaCores(files({ ...mounted, '/proc/self/cgroup': '3:cpu,cpuacct:/docker/abc\n' }))).toBe(0.5)
    // A group made inside the container, tighter still.
    expect(cpuQuotaCores(files({
      ...mounted,
      '/proc/self/cgroup': '3:cpu,cpuacct:/docker/abc/capped\n',
      '/sys/fs/cgroup/cpu,cpuacct/capped/cpu.cfs_quota_us': '25000\n',
      '/sys/fs/cgroup/cpu,cpuacct/capped/cpu.cfs_period_us': '100000\n'
    }))).toBe(0.25)
  })

  it('says null where no quota is set or nothing can be read', () => {
    expect(cpuQuotaCores(files({}))).toBeNull()
    expect(cpuQuotaCores(files({ '/proc/self/mountinfo': V2_MOUNT, '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': 'max 100000\n' }))).toBeNull()
    expect(cpuQuotaCores(files({ '/proc/self/mountinfo': V2_MOUNT, '/proc/self/cgroup': '1:cpu:/\n' }))).toBeNull()
    expect(cpuQuotaCores(files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '50000 100000\n' }))).toBeNull()
  })
})

/** The node flags a process was started with, from its command line. */
function commandLine (pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0')
}

describe('a broker under a real CPU quota', () => {
  /** A cap of `share` cores, or the reason this machine cannot make one (not root, no cgroup CPU controller). */
  function openCap (share: number): CpuCap | string {
    try {
      // A quota above the machine's cores is the kernel's to take; CpuCap refuses one for a benchmark.
      return CpuCap.open(share, Math.max(share, os.availableParallelism()), `tickfan-test-${process.pid}-${share}`)
    } catch (err) {
      if (err instanceof CpuCapError) return err.message
      throw err
    }
  }

  it('runs each of its workers with V8\'s collector on one thread when each has less than a core, and says so', async () => {
    const cap = openCap(1.5)
    if (typeof cap === 'string') { expect(cap).toMatch(/needs root|no cgroup CPU controller/); return }
    const { broker } = await startBrokerCommand(['--workers', '2'], { prefix: cap.prefix() })
    try {
      expect(broker.output()).toContain(`a CPU quota of 1.50 cores over 2 workers: each runs ${SINGLE_THREADED_GC_FLAG}`)
      // Its children: the workers, and tsx's esbuild service.
      const children = execFileSync('pgrep', ['-P', String(broker.child.pid)], { encoding: 'utf8' }).trim().split('\n').map(Number)
      const workers = children.filter((pid) => commandLine(pid).some((arg) => arg.endsWith('broker/main.ts')))
      expect(workers).toHaveLength(2)
      for (const pid of workers) expect(commandLine(pid)).toContain(SINGLE_THREADED_GC_FLAG)
      expect(commandLine(broker.child.pid as number)).not.toContain(SINGLE_THREADED_GC_FLAG)
    } finally {
      await broker.stop()
      cap.close()
    }
  })

  it('as one process, warns that it lacks the flag; with it, or with a core to itself, it does not', async () => {
    const cap = openCap(0.5)
    if (typeof cap === 'string') { expect(cap).toMatch(/needs root|no cgroup CPU controller/); return }
    const wide = openCap(1)
    try {
      const { broker } = await startBrokerCommand(['--workers', '1'], { prefix: cap.prefix() })
      await broker.stop()
      expect(broker.output()).toContain(`warning: this process runs under a CPU quota of 0.50 cores: start node with ${SINGLE_THREADED_GC_FLAG}`)
      const flagged = await startBrokerCommand(['--workers', '1'], { prefix: cap.prefix(), nodeFlags: [SINGLE_THREADED_GC_FLAG] })
      await flagged.broker.stop()
      expect(flagged.broker.output()).not.toContain('warning')
      if (typeof wide === 'string') throw new Error(wide)
      const whole = await startBrokerCommand(['--workers', '1'], { prefix: wide.prefix() })
      await whole.broker.stop()
      expect(whole.broker.output()).not.toContain('warning')
    } finally {
      cap.close()
      if (typeof wide !== 'string') wide.close()
    }
  })
})
