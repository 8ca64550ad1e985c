// A small keep-alive JSON client and the statistics every mode shares.
import http from 'node:http'

export const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })

export interface Response {
  status: number
  json: Record<string, unknown>
}

export function request(port: number, method: string, path: string, body?: unknown, token?: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: {
          ...(payload ? { 'content-type': 'application/json' } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {})
        }
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c) => (text += c))
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : {} })
          } catch (err) {
            reject(err)
          }
        })
      }
    )
    req.on('error', reject)
    req.end(payload)
  })
}

/** Asks until the answer has the wanted status; throws with the answer otherwise. */
export async function expect(status: number, answer: Promise<Response>): Promise<Record<string, unknown>> {
  const res = await answer
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${JSON.stringify(res.json)}`)
  return res.json
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

export const round = (v: number, digits = 1) => Number(v.toFixed(digits))

export function latencySummary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b)
  return {
    p50: round(percentile(sorted, 50), 2),
    p90: round(percentile(sorted, 90), 2),
    p99: round(percentile(sorted, 99), 2),
    max: round(percentile(sorted, 100), 2),
    samples: sorted.length
  }
}

export const now = () => performance.timeOrigin + performance.now()
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls `done` until it holds or `timeoutMs` has passed; returns whether it held. */
export async function until(done: () => boolean, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const deadline = now() + timeoutMs
  while (!done()) {
    if (now() > deadline) return false
    await sleep(everyMs)
  }
  return true
}
