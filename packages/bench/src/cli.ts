// `pnpm bench [mode ...]`: runs the named modes (all but smoke when none is named), prints each result as JSON
// and ends with tables for docs/BENCHMARKS.md (fan-out modes, then the post mode's phases). Exits 1 when any
// event was lost, repeated or reordered.
import { modes, type ModeResult } from './modes.ts'

const DEFAULT = ['fanout', 'fanout-1k', 'cross-node', 'rooms', 'latency', 'latency-cross', 'idle', 'post', 'login']
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

type Fanout = { delivered?: number; expected?: number; lost?: number; duplicated?: number; outOfOrderStreams?: number }
const fanouts = results.flatMap((r) => [r.chat, r.floor, (r.chat as { crossNode?: Fanout }).crossNode]) as Fanout[]
const broken = fanouts.filter((f) => f && (f.lost || f.duplicated || f.outOfOrderStreams))

const cell = (v: unknown) => (v === undefined ? '' : String(v))
const rows = results
  .filter((r) => 'deliveriesPerSecond' in r.chat)
  .map((r) => {
    const c = r.chat as Record<string, never> & { latencyMs: Record<string, number> }
    const f = r.floor as (Record<string, never> & { latencyMs: Record<string, number> }) | undefined
    return `| ${r.mode} | ${r.shape} | ${c.delivered}/${c.expected} | ${c.deliveriesPerSecond} | ${cell(f?.deliveriesPerSecond)} | ${cell(r.ratio?.deliveriesPerSecond)} | ${c.latencyMs.p50} / ${c.latencyMs.p99} | ${f ? `${f.latencyMs.p50} / ${f.latencyMs.p99}` : ''} | ${c.serverCpuMicrosPerDelivery} | ${cell(f?.serverCpuMicrosPerDelivery)} | ${c.serverPeakRssMiB} |`
  })
if (rows.length) {
  process.stdout.write(
    '\n| mode | shape | delivered | deliveries/s | floor /s | ratio | p50 / p99 ms | floor p50 / p99 | CPU µs/delivery | floor CPU µs | peak RSS MiB |\n' +
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n' +
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
  kinds?: Record<string, { requests: number; p99: number }>
}
const phases = results.flatMap((r) =>
  [
    { phase: r.mode, figures: r.chat },
    { phase: `${r.mode} (mixed)`, figures: r.chatMixed }
  ]
    .filter(({ figures }) => figures && 'requestsPerSecond' in figures)
    .map(({ phase, figures }) => {
      const c = figures as Requests
      const kinds = Object.entries(c.kinds ?? {})
        .map(([kind, k]) => `${kind} ${k.requests} (p99 ${k.p99})`)
        .join(', ')
      return `| ${phase} | ${r.shape} | ${c.requests} | ${c.failed} | ${c.requestsPerSecond} | ${c.latencyMs.p50} / ${c.latencyMs.p99} | ${c.serverCpuMicrosPerRequest} | ${kinds} |`
    })
)
if (phases.length) {
  process.stdout.write(
    '\n| mode | shape | requests | failed | requests/s | p50 / p99 ms | CPU µs/request | by kind |\n' +
      '| --- | --- | --- | --- | --- | --- | --- | --- |\n' +
      phases.join('\n') +
      '\n'
  )
}
if (broken.length) {
  process.stderr.write(`\nFAILED: ${broken.length} run(s) lost, repeated or reordered events\n`)
  process.exitCode = 1
}
