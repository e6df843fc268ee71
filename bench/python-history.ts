/**
 * `npm run check:python-history -- --python /path/to/python`: the trade history read by the
 * official Python client (nats-py, which the Python on the command line must have), against
 * tickfan and against `nats-server -js` holding the same stream; both outputs must be equal.
 * Writes reports/ci/python-history.md. Not part of `npm test`: CI installs no Python packages.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { helpText, parseOptions, runMain, UsageError, type OptionTable } from '../lib/cli-options.ts'
import { startNatsServer } from '../broker/test-support/nats-server.ts'
import { startTickfan } from '../broker/test-support/targets.ts'
import { ROOT } from './harness/processes.ts'

const CLI = {
  python: { type: 'string', default: 'python3', help: 'A Python 3 with nats-py installed' }
} satisfies OptionTable

/** Runs the Python reader (asynchronously: the broker it reads runs in this process). */
async function readHistory (python: string, url: string): Promise<string> {
  const child = spawn(python, [path.join(ROOT, 'bench/clients/read-history.py'), url], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  clearTimeout(timer)
  if (code !== 0) throw new Error(`${python} bench/clients/read-history.py ${url} failed: ${err.trim().split('\n').pop() ?? ''}`)
  return out.trim()
}

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run check:python-history --', 'The trade history read by the official Python client, against tickfan and nats-server -js.', CLI)); return }
  const probe = spawnSync(o.python, ['-c', 'import nats.js'], { encoding: 'utf8' })
  const why = probe.error?.message ?? (probe.stderr.trim().split('\n').pop() || `exit code ${String(probe.status)}`)
  if (probe.status !== 0) throw new UsageError(`--python ${o.python}: cannot import nats.js (pip install nats-py): ${why}`)
  const version = spawnSync(o.python, ['-c', 'import importlib.metadata as m; print(m.version("nats-py"))'], { encoding: 'utf8' }).stdout.trim()
  const reference = await startNatsServer({ jetstream: true })
  const tickfan = await startTickfan()
  try {
    const nc = await connect({ servers: reference.natsUrl })
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({ name: 'trades', subjects: ['trade.>'], storage: 'memory' as never, allow_direct: true, duplicate_window: 120e9 })
    await nc.close()
    process.stdout.write(`nats-py ${version}: tickfan\n`)
    const fromTickfan = await readHistory(o.python, tickfan.natsUrl)
    process.stdout.write(`${fromTickfan}\nnats-server -js\n`)
    const fromReference = await readHistory(o.python, reference.natsUrl)
    process.stdout.write(`${fromReference}\n`)
    const same = fromTickfan === fromReference
    const report = ['# The trade history read by the official Python client', '',
      `${new Date().toISOString()}; made by \`npm run check:python-history -- --python <a python with nats-py>\`; nats-py ${version}; Node ${process.version}.`, '',
      '`bench/clients/read-history.py` publishes 10 trades with `Nats-Msg-Id` and one repeat through `js.publish`, reads stream info, pulls with `js.pull_subscribe` (ack policy none, deliver all) and `fetch`, and gets the last message of a subject. Its output:', '',
      '```', `tickfan:         ${fromTickfan}`, `nats-server -js: ${fromReference}`, '```', '',
      same ? 'The same on both.' : 'They differ.', '']
    const dir = path.join(ROOT, 'reports/ci')
    mkdirSync(dir, { recursive: true })
    writeFileSync(path.join(dir, 'python-history.md'), report.join('\n'))
    process.stdout.write(`${same ? 'the same on both' : 'DIFFERENT'}; report: reports/ci/python-history.md\n`)
    if (!same) process.exitCode = 1
  } finally {
    await tickfan.stop()
    await reference.stop()
  }
})
