/**
 * `npm run bench:ci`: the CI performance regression check, within 5 minutes on 2 cores.
 *
 * Hard gates on deterministic facts (the steady workload, quick): no trade loss, right final
 * values, no order violations, socket writes and bytes per delivery within the committed
 * budget (bench/ci-budget.json). Gates on ratios measured in this run, interleaved A B A B:
 * fan-out deliveries/s tickfan / nats-server and broker CPU per delivery tickfan / nats-server
 * (medians of 3; the CPU ratio is the sensitive one, since fan-out on 2 cores is client-bound),
 * and fast-subscriber p99 with a stalled subscriber / without. Thresholds are wide enough not to flap on a noisy shared
 * 2-core machine and tight enough to catch a real regression (a 2x slowdown of the publish
 * path fails the fan-out gate). Prints a verdict table; exits 1 when a gate fails.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { runMain } from '../broker/cli-options.ts'
import { natsServerVersion } from '../broker/test-support/nats-server.ts'
import { fanoutRun, isolationRun } from './harness/broker-runs.ts'
import { ROOT } from './harness/processes.ts'
import { runScenario } from './harness/runner.ts'
import { loadWorkload, quick } from './workload.ts'
import { median } from './harness/stats.ts'

interface Budget { socketWritesPerDelivery: number, bytesPerDelivery: number, fanoutRatioMin: number, isolationRatioMax: number, cpuPerDeliveryRatioMax: number }


runMain(async () => {
  const budget = JSON.parse(readFileSync(path.join(ROOT, 'bench/ci-budget.json'), 'utf8')) as Budget
  const started = Date.now()
  const step = (text: string): void => { process.stdout.write(`  [${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${text}\n`) }
  const rows: Array<{ gate: string, value: string, limit: string, pass: boolean }> = []
  const gate = (name: string, value: number, limit: string, pass: boolean): void => { rows.push({ gate: name, value: Number.isInteger(value) ? String(value) : value.toFixed(3), limit, pass }) }
  process.stdout.write('tickfan bench:ci\n')

  // 1. Deterministic facts on the steady workload.
  const steady = quick(loadWorkload(path.join(ROOT, 'bench/workloads/steady.json')), 0.4)
  step(`steady workload, ${steady.rate} msgs/s, ${steady.subscribers} subscribers, ${steady.durationSeconds} s`)
  const s = await runScenario('tickfan', steady, steady.rate as number, 1)
  gate('generator healthy (run valid)', s.valid ? 1 : 0, '= 1', s.valid)
  gate('trade loss', s.tradeLoss, '= 0', s.tradeLoss === 0)
  gate('wrong final values', s.wrongFinalValues, '= 0', s.wrongFinalValues === 0)
  gate('order violations', s.orderViolations, '= 0', s.orderViolations === 0)
  const writes = s.broker.socketWritesPerDelivery ?? Infinity
  gate('socket writes per delivery', writes, `<= ${budget.socketWritesPerDelivery}`, writes <= budget.socketWritesPerDelivery)
  const bytes = s.broker.bytesPerDelivery ?? Infinity
  gate('bytes per delivery', bytes, `<= ${budget.bytesPerDelivery}`, bytes <= budget.bytesPerDelivery)

  // 2. Ratios measured in this run against nats-server, interleaved.
  if (natsServerVersion() === null) {
    process.stdout.write('  nats-server is not on PATH: the ratio gates need it (apt-get install -y nats-server)\n')
    rows.push({ gate: 'nats-server available for ratio gates', value: '0', limit: '= 1', pass: false })
  } else {
    const ratios: number[] = []
    const cpuRatios: number[] = []
    for (let r = 0; r < 3; r++) {
      const order = r % 2 === 0 ? ['tickfan', 'nats-server'] as const : ['nats-server', 'tickfan'] as const
      const got: Record<string, { rate: number, cpuPerDelivery: number }> = {}
      for (const t of order) {
        const f = await fanoutRun(t, { fanoutSubscribers: 10, fanoutMessages: 50_000, payload: 128 })
        got[t] = { rate: f.deliveredPerSec, cpuPerDelivery: f.brokerCpuSeconds / f.delivered }
        step(`fan-out ${t}: ${Math.round(f.deliveredPerSec).toLocaleString('en-US')} deliveries/s, broker CPU ${(f.brokerCpuSeconds / f.delivered * 1e6).toFixed(2)} us/delivery`)
      }
      const tf = got.tickfan as { rate: number, cpuPerDelivery: number }
      const ns = got['nats-server'] as { rate: number, cpuPerDelivery: number }
      ratios.push(tf.rate / ns.rate)
      cpuRatios.push(tf.cpuPerDelivery / ns.cpuPerDelivery)
    }
    gate('fan-out deliveries/s tickfan / nats-server (median of 3)', median(ratios), `>= ${budget.fanoutRatioMin}`, median(ratios) >= budget.fanoutRatioMin)
    gate('broker CPU per delivery tickfan / nats-server (median of 3)', median(cpuRatios), `<= ${budget.cpuPerDeliveryRatioMax}`, median(cpuRatios) <= budget.cpuPerDeliveryRatioMax)
    const iso = { rate: 20_000, subjects: 100, payload: 128, seconds: 3, warmup: 1 }
    const alone = await isolationRun('tickfan', false, iso)
    const stalled = await isolationRun('tickfan', true, iso)
    const ratio = stalled.subscriber.latencyUs.p99 / Math.max(1, alone.subscriber.latencyUs.p99)
    step(`isolation: fast p99 ${(alone.subscriber.latencyUs.p99 / 1000).toFixed(2)} ms alone, ${(stalled.subscriber.latencyUs.p99 / 1000).toFixed(2)} ms with a stalled subscriber`)
    gate('fast p99 with a stalled subscriber / without', ratio, `<= ${budget.isolationRatioMax}`, ratio <= budget.isolationRatioMax)
  }

  const width = Math.max(...rows.map((r) => r.gate.length))
  process.stdout.write(`\n${'gate'.padEnd(width)}  ${'value'.padStart(10)}  ${'limit'.padEnd(8)}  verdict\n`)
  for (const r of rows) process.stdout.write(`${r.gate.padEnd(width)}  ${r.value.padStart(10)}  ${r.limit.padEnd(8)}  ${r.pass ? 'PASS' : 'FAIL'}\n`)
  const failed = rows.filter((r) => !r.pass).length
  process.stdout.write(`\nbench:ci ${failed === 0 ? 'passed' : `FAILED (${failed} gate${failed === 1 ? '' : 's'})`} in ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
  if (failed > 0) process.exitCode = 1
})
