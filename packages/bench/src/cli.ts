// `pnpm bench [mode ...]`: runs the named modes (all but smoke when none is named), prints each result as JSON
// and ends with tables for docs/BENCHMARKS.md (fan-out modes, the post mode's phases, idle memory, resumption).
// Exits 1 when any event was lost, repeated or reordered, or a user stream never became ready.
import { modes, type ModeResult } from './modes.ts'
import { stopRedisCluster } from './bus-modes.ts'

const DEFAULT = [
  'fanout',
  'fanout-1k',
  'cross-node',
  'rooms',
  'user-fanout',
  'ws-fanout',
  'user-rooms',
  'latency',
  'latency-cross',
  'idle',
  'idle-user',
  'idle-ws',
  'resume',
  'post',
  'login',
  'rooms-mine',
  'typing-storm'
]
const asked = process.argv.slice(2)
const unknown = asked.filter((m) => !(m in modes))
if (unknown.length) {
  process.stderr.write(`unknown mode(s): ${unknown.join(', ')}; modes: ${Object.keys(modes).join(', ')}\n`)
  process.exit(2)
}

const results: ModeResult[] = []
for (const name of asked.length ? asked : DEFAULT) {
  process.stderr.write(`\n== ${name}\n`)
  const result = await modes[name]!()
  results.push(result)
  process.stdout.write(JSON.stringify(result, null, 2) + '\n')
}
await stopRedisCluster()

type Checked = Partial<
  Record<'lost' | 'duplicated' | 'outOfOrderStreams' | 'notReady' | 'readyEarly' | 'resets', number>
>
const checked = results.flatMap((r) => {
  const c = r.chat as { crossNode?: Checked; withTyping?: Checked; withoutTyping?: Checked }
  return [r.chat, r.floor, c.crossNode, c.withTyping, c.withoutTyping]
}) as Checked[]
const broken = checked.filter(
  (f) => f && (f.lost || f.duplicated || f.outOfOrderStreams || f.notReady || f.readyEarly || f.resets)
)

const cell = (v: unknown) => (v === undefined ? '' : String(v))
const rows = results
  .filter((r) => 'deliveriesPerSecond' in r.chat)
  .map((r) => {
    const c = r.chat as Record<string, never> & { latencyMs: Record<string, number> }
    const f = r.floor as (Record<string, never> & { latencyMs: Record<string, number> }) | undefined
    return `| ${r.mode} | ${r.shape} | ${c.delivered}/${c.expected} | ${c.deliveriesPerSecond} | ${cell(f?.deliveriesPerSecond)} | ${cell(r.ratio?.deliveriesPerSecond)} | ${c.latencyMs.p50} / ${c.latencyMs.p99} | ${f ? `${f.latencyMs.p50} / ${f.latencyMs.p99}` : ''} | ${c.serverCpuMicrosPerDelivery} | ${cell(f?.serverCpuMicrosPerDelivery)} | ${c.serverWritesPerDelivery}${f ? ` / ${f.serverWritesPerDelivery}` : ''} | ${c.serverPeakRssMiB} |`
  })
if (rows.length) {
  process.stdout.write(
    '\n| mode | shape | delivered | deliveries/s | floor /s | ratio | p50 / p99 ms | floor p50 / p99 | CPU µs/delivery | floor CPU µs | writes per delivery (floor) | peak RSS MiB |\n' +
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n' +
      rows.join('\n') +
      '\n'
  )
}
// Closed-loop request modes (post): one row a phase, with the mixed phase's kinds beside it.
type Requests = {
  requests: number
  failed: number
  requestsPerSecond: number
  latencyMs: Record<string, number>
  serverCpuMicrosPerRequest: number
  clientCpuMicrosPerRequest?: number
  kinds?: Record<string, { requests: number; p99: number }>
}
const phases = results.flatMap((r) =>
  [
    { phase: r.mode, figures: r.chat, ratio: r.writeRatio?.post },
    { phase: `${r.mode} (mixed)`, figures: r.chatMixed, ratio: r.writeRatio?.mixed },
    { phase: `${r.mode} (HTTP floor)`, figures: r.httpFloor, ratio: r.writeRatio?.httpFloor }
  ]
    .filter(({ figures }) => figures && 'requestsPerSecond' in figures)
    .map(({ phase, figures, ratio }) => {
      const c = figures as Requests
      const kinds = Object.entries(c.kinds ?? {})
        .map(([kind, k]) => `${kind} ${k.requests} (p99 ${k.p99})`)
        .join(', ')
      const floor = r.floor as { requestsPerSecond: number; latencyMs: Record<string, number> } | undefined
      const floorCells = floor
        ? `${floor.requestsPerSecond} | ${ratio} | ${floor.latencyMs.p50} / ${floor.latencyMs.p99}`
        : '– | – | –'
      return `| ${phase} | ${r.shape} | ${c.requests} | ${c.failed} | ${c.requestsPerSecond} | ${floorCells} | ${c.latencyMs.p50} / ${c.latencyMs.p99} | ${c.serverCpuMicrosPerRequest} | ${c.clientCpuMicrosPerRequest ?? '–'} | ${kinds} |`
    })
)
if (phases.length) {
  process.stdout.write(
    '\n| mode | shape | requests | failed | requests/s | write floor posts/s | ratio | floor p50 / p99 ms | p50 / p99 ms | CPU µs/request | load CPU µs/request | by kind |\n' +
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n' +
      phases.join('\n') +
      '\n'
  )
}
// Idle modes: memory per stream beside the floor's.
type Idle = {
  streams: number
  kibPerStream: number
  kibPerStreamAfterHeartbeat: number
  kibPerStreamAfterGc: number
  streamsWithHeartbeat: number
}
const idles = results
  .filter((r) => 'kibPerStream' in r.chat)
  .map((r) => {
    const c = r.chat as Idle
    const f = r.floor as Idle | undefined
    const beats = `${c.streamsWithHeartbeat}${f ? ` / ${f.streamsWithHeartbeat}` : ''}`
    const kib = (i: Idle | undefined) =>
      i ? `${i.kibPerStream} / ${i.kibPerStreamAfterHeartbeat} / ${i.kibPerStreamAfterGc}` : '–'
    return `| ${r.mode} | ${r.shape} | ${kib(c)} | ${kib(f)} | ${beats} |`
  })
if (idles.length) {
  process.stdout.write(
    '\n| mode | shape | KiB per stream: open / after heartbeat / after full GC | floor KiB (the same) | streams with heartbeat (floor) |\n' +
      '| --- | --- | --- | --- | --- |\n' +
      idles.join('\n') +
      '\n'
  )
}
// Resumption: the reconnect burst.
type Resumed = {
  delivered: number
  expected: number
  streams: number
  notReady: number
  secondsToAllReady: number
  readyMs: Record<string, number>
  replayedEventsPerSecond: number
  serverCpuMicrosPerReplayedEvent: number
  serverCpuMsPerResumedStream: number
  serverPeakRssMiB: number
  database: Record<string, number>
}
const resumes = results
  .filter((r) => 'secondsToAllReady' in r.chat)
  .map((r) => {
    const c = r.chat as Resumed
    const db = c.database
    return `| ${r.mode} | ${r.shape} | ${c.delivered}/${c.expected} | ${c.streams - c.notReady}/${c.streams} | ${c.secondsToAllReady} | ${c.readyMs.p50} / ${c.readyMs.p99} | ${c.replayedEventsPerSecond} | ${c.serverCpuMicrosPerReplayedEvent} | ${c.serverCpuMsPerResumedStream} | ${db.transactionsPerStream} | ${db.rowsFetchedPerStream} | ${c.serverPeakRssMiB} |`
  })
if (resumes.length) {
  process.stdout.write(
    '\n| mode | shape | replayed | ready | s to all ready | ready p50 / p99 ms | replayed/s | CPU µs per event | CPU ms per stream | transactions per stream | rows fetched per stream | peak RSS MiB |\n' +
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n' +
      resumes.join('\n') +
      '\n'
  )
}
// Read state and typing (state-modes.ts).
type Get = { requests: number; latencyMs: Record<string, number>; transactionsPerRequest: number }
const mine = results
  .filter((r) => r.mode === 'rooms-mine')
  .map((r) => {
    const c = r.chat as { many: Get; one: Get; wrongUnreadCounts: number }
    const row = (label: string, g: Get) =>
      `| ${label} | ${g.requests} | ${g.latencyMs.p50} / ${g.latencyMs.p99} | ${g.transactionsPerRequest} |`
    return [row(`${r.shape}: many rooms`, c.many), row('1 room', c.one)].join('\n')
  })
if (mine.length) {
  process.stdout.write(
    '\n| rooms-mine | requests | p50 / p99 ms | transactions per request |\n| --- | --- | --- | --- |\n' +
      mine.join('\n') +
      '\n'
  )
}
type Stormed = { latencyMs: Record<string, number>; typingRequests: number; delivered: number; expected: number }
const storms = results
  .filter((r) => r.mode === 'typing-storm')
  .map((r) => {
    const c = r.chat as { withTyping: Stormed; withoutTyping: Stormed; latencyP99Ratio: number }
    const w = c.withTyping
    const q = c.withoutTyping
    return `| ${r.shape} | ${w.delivered}/${w.expected} | ${w.typingRequests} | ${w.latencyMs.p50} / ${w.latencyMs.p99} | ${q.latencyMs.p50} / ${q.latencyMs.p99} | ${c.latencyP99Ratio} |`
  })
if (storms.length) {
  process.stdout.write(
    '\n| typing-storm | delivered | typing requests | p50 / p99 ms with typing | without | p99 ratio |\n' +
      '| --- | --- | --- | --- | --- | --- |\n' +
      storms.join('\n') +
      '\n'
  )
}
if (broken.length) {
  process.stderr.write(
    `\nFAILED: ${broken.length} run(s) lost, repeated or reordered events or left streams not ready\n`
  )
  process.exitCode = 1
}
