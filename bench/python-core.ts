/**
 * `npm run check:python-core -- --python /path/to/python`: core NATS through the official Python
 * client (nats-py), against nats-server and against the tickfan broker command with its default
 * worker count and with 2 and 3 workers. bench/clients/core-conformance.py prints what each case
 * saw; every case must see on tickfan what it saw on nats-server, but for the differences the
 * README states. Writes reports/ci/python-core.md. Not part of `npm test`: CI installs no Python
 * packages.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { helpText, parseOptions, runMain } from '../lib/cli-options.ts'
import { startNatsServer } from '../broker/test-support/nats-server.ts'
import { startBrokerCommand } from '../broker/test-support/processes.ts'
import { ROOT } from './harness/processes.ts'
import { natsPyVersion, PYTHON_OPTION, runPythonClient } from './python-clients.ts'

/** Cases whose results differ from nats-server's by design, and where that is said. */
const KNOWN_DIFFERENCES: Readonly<Record<string, string>> = {
  invalid_publish_subjects: 'README "Broker behaviour in brief", Publish subjects: a wildcard token is routed to nobody, not delivered as a literal'
}

const TICKFAN_RUNS: ReadonlyArray<{ name: string, flags: string, args: string[] }> = [
  { name: 'tickfan, default workers', flags: 'no flags (the default worker count)', args: [] },
  { name: 'tickfan --workers 2', flags: '`--workers 2`', args: ['--workers', '2'] },
  { name: 'tickfan --workers 3', flags: '`--workers 3`', args: ['--workers', '3'] }
]

type Cases = Record<string, unknown>

async function casesAgainst (python: string, url: string): Promise<Cases> {
  return JSON.parse(await runPythonClient(python, 'core-conformance.py', url)) as Cases
}

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), PYTHON_OPTION)
  if (o.help) { process.stdout.write(helpText('npm run check:python-core --', 'Core NATS through the official Python client, against tickfan (1, 2 and 3 workers) and nats-server.', PYTHON_OPTION)); return }
  const version = natsPyVersion(o.python)
  const reference = await startNatsServer()
  let expected: Cases
  try {
    process.stdout.write(`nats-py ${version}: nats-server\n`)
    expected = await casesAgainst(o.python, reference.natsUrl)
  } finally {
    await reference.stop()
  }
  const names = Object.keys(expected).sort()
  const rows: string[] = []
  const unexpected: string[] = []
  for (const run of TICKFAN_RUNS) {
    process.stdout.write(`${run.name}\n`)
    const started = await startBrokerCommand(run.args)
    let got: Cases
    try {
      got = await casesAgainst(o.python, started.natsUrl)
    } finally {
      await started.broker.stop('SIGINT')
    }
    for (const name of names) {
      const same = JSON.stringify(got[name]) === JSON.stringify(expected[name])
      if (same) continue
      const known = KNOWN_DIFFERENCES[name]
      if (known === undefined) unexpected.push(`${run.name}: ${name}`)
      rows.push(`| ${run.name} | \`${name}\` | \`${JSON.stringify(got[name])}\` | \`${JSON.stringify(expected[name])}\` | ${known ?? '**not expected**'} |`)
    }
    const differing = names.filter((n) => JSON.stringify(got[n]) !== JSON.stringify(expected[n]))
    process.stdout.write(`  ${names.length - differing.length} of ${names.length} cases as on nats-server${differing.length > 0 ? `; differ: ${differing.join(', ')}` : ''}\n`)
  }
  const report = ['# Core NATS through the official Python client', '',
    `${new Date().toISOString()}; made by \`npm run check:python-core -- --python <a python with nats-py>\`; nats-py ${version}; Node ${process.version}.`, '',
    `\`bench/clients/core-conformance.py\` runs its cases on one connection and prints what each saw (${names.length} results: ${names.map((n) => `\`${n}\``).join(', ')}). ` +
    `It ran against nats-server, then against the broker command (\`broker/main.ts\`) with ${TICKFAN_RUNS.map((r) => r.flags).join(', ')}.`, '',
    rows.length === 0 ? 'Every case saw on tickfan what it saw on nats-server.' : 'Where a case saw something else on tickfan:', '',
    ...(rows.length === 0 ? [] : ['| broker | case | tickfan | nats-server | why |', '|---|---|---|---|---|', ...rows, '']),
    unexpected.length === 0 ? 'No difference that is not stated.' : `Differences not expected: ${unexpected.join('; ')}.`, '',
    'What nats-server saw:', '', '```json', JSON.stringify(expected, null, 1), '```', '']
  const dir = path.join(ROOT, 'reports/ci')
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, 'python-core.md'), report.join('\n'))
  process.stdout.write(`${unexpected.length === 0 ? 'as on nats-server, but for the stated differences' : `NOT EXPECTED: ${unexpected.join('; ')}`}; report: reports/ci/python-core.md\n`)
  if (unexpected.length > 0) process.exitCode = 1
})
