/**
 * `npm run replay -- --file <recording> [--speed 1|N|max]`: re-publishes a recorded stream.
 */
import { connect } from '@nats-io/transport-node'
import { helpText, parseOptions, runMain, UsageError, type OptionTable } from '../lib/cli-options.ts'
import { natsTickPublisher } from './nats-publisher.ts'
import { replay } from './recorder.ts'
import { SequenceStamper, nowEpochMs, nowMonoUs } from './tick.ts'

const CLI = {
  file: { type: 'string', default: '', help: 'Recording to replay (JSON Lines from npm run feeds -- --record)' },
  speed: { type: 'string', default: '1', help: 'Replay speed: 1 = real time, N = N times faster, max = as fast as possible' },
  nats: { type: 'string', default: 'nats://127.0.0.1:4222', help: 'NATS server to publish to' }
} satisfies OptionTable

runMain(async () => {
  const o = parseOptions(process.argv.slice(2), CLI)
  if (o.help) { process.stdout.write(helpText('npm run replay --', 'Replays a recorded tick stream at 1x, Nx or full speed.', CLI)); return }
  if (o.file === '') throw new UsageError('--file is required')
  const speed = o.speed === 'max' ? Infinity : Number(o.speed)
  if (!(speed > 0)) throw new UsageError(`--speed must be a positive number or max, got ${JSON.stringify(o.speed)}`)
  const nc = await connect({ servers: o.nats, name: 'tickfan-replay' })
  const publisher = natsTickPublisher(nc)
  const sequences = new SequenceStamper()
  const result = await replay({
    path: o.file,
    speed,
    publish: (subject, tick) => {
      const pubTime = nowEpochMs()
      publisher.publish(subject, { ...tick, seq: sequences.next(subject, pubTime), pubTime, pubMono: nowMonoUs() })
    },
    onProgress: (n) => process.stdout.write(`\r  replayed ${n.toLocaleString('en-US')} ticks`),
    yieldEvery: () => nc.flush()
  })
  await nc.flush()
  await nc.close()
  process.stdout.write(`\rreplayed ${result.replayed.toLocaleString('en-US')} ticks in ${result.seconds.toFixed(1)} s (${Math.round(result.replayed / Math.max(result.seconds, 0.001)).toLocaleString('en-US')}/s)\n`)
})
