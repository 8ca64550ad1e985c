// A closed loop of requests to one node: `concurrency` clients, each sending its next request as soon as the
// previous one is answered, for a fixed time. Throughput, latency and the node's CPU per request, overall and
// per kind of request.
import { latencySummary, now, request, round, type Response } from './http.ts'
import type { Node } from './nodes.ts'
import { cpuBetween, sample } from './proc.ts'

/** One request of the loop and what counts as its success. */
export interface Call {
  /** what the figures are grouped by: post, edit, react, … */
  kind: string
  path: string
  body: Record<string, unknown>
  token: string
  /** statuses that count as a success; any other is a failure */
  ok: readonly number[]
  /** told every successful answer */
  onOk?: (res: Response) => void
}

interface Tally {
  latencies: number[]
  failed: number
  statuses: Record<number, number>
}

export interface KindFigures {
  requests: number
  failed: number
  /** answers by HTTP status, successes and failures */
  statuses: Record<number, number>
  p50: number
  p99: number
}

/** Sends `next(0)`, `next(1)`, … (POST, JSON) from `concurrency` clients for `seconds`. */
export async function closedLoop(
  node: Pick<Node, 'port' | 'pid'>,
  concurrency: number,
  seconds: number,
  next: (i: number) => Call
) {
  const tallies = new Map<string, Tally>()
  const tally = (kind: string) => {
    let t = tallies.get(kind)
    if (!t) tallies.set(kind, (t = { latencies: [], failed: 0, statuses: {} }))
    return t
  }
  let sent = 0
  const before = sample(node.pid)
  const clientBefore = process.cpuUsage()
  const started = now()
  const end = started + seconds * 1000
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (now() < end) {
        const call = next(sent++)
        const t = now()
        const res = await request(node.port, 'POST', call.path, call.body, call.token)
        const kind = tally(call.kind)
        kind.statuses[res.status] = (kind.statuses[res.status] ?? 0) + 1
        if (!call.ok.includes(res.status)) kind.failed++
        else {
          kind.latencies.push(now() - t)
          call.onOk?.(res)
        }
      }
    })
  )
  const wall = (now() - started) / 1000
  const after = sample(node.pid)
  const client = process.cpuUsage(clientBefore)
  const cpu = cpuBetween(before, after).total
  const all = [...tallies.values()]
  const succeeded = all.reduce((s, k) => s + k.latencies.length, 0)
  const failed = all.reduce((s, k) => s + k.failed, 0)
  const kinds: Record<string, KindFigures> = {}
  const byCount = [...tallies].sort(([, a], [, b]) => b.latencies.length + b.failed - a.latencies.length - a.failed)
  for (const [kind, { latencies, failed, statuses }] of byCount) {
    const { p50, p99 } = latencySummary(latencies)
    kinds[kind] = { requests: latencies.length + failed, failed, statuses, p50, p99 }
  }
  return {
    requests: succeeded + failed,
    failed,
    requestsPerSecond: Math.round(succeeded / wall),
    latencyMs: latencySummary(all.flatMap((k) => k.latencies)),
    serverCpuMicrosPerRequest: round((cpu * 1e6) / Math.max(1, succeeded)),
    /** the load's own CPU (this process, which runs nothing else meanwhile) per request */
    clientCpuMicrosPerRequest: round((client.user + client.system) / Math.max(1, succeeded)),
    serverPeakRssMiB: round(after.peakRss / 2 ** 20),
    kinds
  }
}
