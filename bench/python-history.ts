/**
 * `npm run check:python-history -- --python /path/to/python`: the trade history read by the
 * official Python client (nats-py, which the Python on the command line must have), against
 * tickfan and against `nats-server -js` holding the same stream; both outputs must be equal.
 * Writes reports/ci/python-history.md. Not part of `npm test`: CI installs no Python packages.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { helpText, parseOptions, runMain } from '../lib/cli-options.ts'
import { startNatsServer } from '../broker/test-support/nats-server.ts'
import { startTickfan } from '../broker/test-support/targets.ts'
import { ROOT } from './harness/processes.ts'
import { natsPyVersion, PYTHON_OPTION, runPythonClient } from './python-clients.ts'

const CLI = PYTHON_OPTION

const readHistory = async (python: string, url: string): Promise<string> => await runPythonClient(python, 'read-history.py', url)

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run check:python-history --', 'The trade history read by the official Python client, against tickfan and nats-server -js.', CLI)); return }
  const version = natsPyVersion(o.python)
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
