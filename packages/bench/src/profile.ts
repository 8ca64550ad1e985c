// Summarises a V8 CPU profile (from BENCH_PROFILE=<dir>): the functions with the most self time, and the
// inclusive time of every function whose name matches a filter. Usage: profile.ts FILE [TOP] [FILTER]
// PROFILE_WINDOW=<regex> keeps only the samples from the first to the last whose stack has a function matching
// it (e.g. `#deliver.*broadcaster` for a fan-out run's measured phase, without the setup around it).
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

const out = (line: string) => process.stdout.write(line + '\n')
const [file, top = '25', filter] = process.argv.slice(2)
if (!file) throw new Error('usage: profile.ts FILE [TOP] [FILTER]')
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

const label = (n: ProfileNode) => {
  const { functionName, url, lineNumber } = n.callFrame
  const where = url
    ? `${url.replace(/^.*node_modules\/(\.pnpm\/)?/, '').replace(/^file:\/\/.*\/work\/main\//, '')}:${lineNumber + 1}`
    : ''
  return `${functionName || '(anonymous)'} ${where}`.trim()
}

const stackMatches = (id: number, re: RegExp): boolean => {
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at))
    if (re.test(label(byId.get(at)!))) return true
  return false
}
const windowRe = process.env.PROFILE_WINDOW ? new RegExp(process.env.PROFILE_WINDOW) : null
let first = 0
let last = profile.samples.length - 1
if (windowRe) {
  const inside = profile.samples.flatMap((id, i) => (stackMatches(id, windowRe) ? [i] : []))
  first = inside[0] ?? 0
  last = inside.at(-1) ?? last
}
const selfTime = new Map<number, number>()
profile.samples.forEach((id, i) => {
  if (i >= first && i <= last) selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
})
const total = [...selfTime.values()].reduce((a, b) => a + b, 0)

const self = new Map<string, number>()
const inclusive = new Map<string, number>()
for (const [id, t] of selfTime) {
  self.set(label(byId.get(id)!), (self.get(label(byId.get(id)!)) ?? 0) + t)
  const seen = new Set<string>()
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const l = label(byId.get(at)!)
    if (seen.has(l)) continue
    seen.add(l)
    inclusive.set(l, (inclusive.get(l) ?? 0) + t)
  }
}
const pct = (t: number) => `${((100 * t) / total).toFixed(1).padStart(5)}%`
out(`total ${(total / 1e6).toFixed(2)} s sampled`)
out('\nself time:')
for (const [l, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) out(`${pct(t)}  ${l}`)
if (filter) {
  out(`\ninclusive time, matching /${filter}/:`)
  const re = new RegExp(filter)
  for (const [l, t] of [...inclusive]
    .filter(([l]) => re.test(l))
    .sort((a, b) => b[1] - a[1])
    .slice(0, Number(top)))
    out(`${pct(t)}  ${l}`)
}
