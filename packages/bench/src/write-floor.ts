// The write floor: what PostgreSQL itself does for posts on this machine. A bare postgres.js client doing exactly
// the database work of a post (lock the room's row, append the event with the next seq, move the room's
// last_seq, commit) at the post mode's concurrency, with the node's batching freedom: the posts asked for in one
// turn of the event loop go in one statement (at most 100), as the node's post batcher does. No HTTP, no auth,
// no JSON, no membership or idempotency checks: every `post` figure is reported beside it as a ratio.
import postgres from 'postgres'
import { latencySummary, now, round } from './http.ts'

const MAX_BATCH = 100

// One statement, one implicit transaction: the rooms are locked in id order (as the node locks them), each post
// gets its room's next seq in the order it was asked for, and last_seq moves to the highest.
const STATEMENT = `
WITH b AS (
  SELECT * FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS b(room_id, text, ord)
), locked AS (
  SELECT r.id, r.last_seq FROM rooms r WHERE r.id IN (SELECT room_id FROM b) ORDER BY r.id FOR UPDATE
), numbered AS (
  SELECT b.room_id, b.text, b.ord, locked.last_seq + row_number() OVER (PARTITION BY b.room_id ORDER BY b.ord) AS seq
  FROM b JOIN locked ON locked.id = b.room_id
), moved AS (
  UPDATE rooms r SET last_seq = m.seq
  FROM (SELECT room_id, max(seq) AS seq FROM numbered GROUP BY room_id) m WHERE r.id = m.room_id
)
INSERT INTO room_events (room_id, seq, type, user_id, text)
SELECT room_id, seq, 'message', $3::uuid, text FROM numbered ORDER BY ord
RETURNING seq`

interface Pending {
  roomId: string
  text: string
  done: (error?: unknown) => void
}

export interface WriteFloorResult {
  requests: number
  requestsPerSecond: number
  latencyMs: ReturnType<typeof latencySummary>
  postsPerStatement: number
  /** the client's own CPU (this process's, which runs nothing else meanwhile) per post */
  clientCpuMicrosPerPost: number
}

/** Posts to `roomIds` in turn from `concurrency` loops for `seconds`, on the database the node used. */
export async function writeFloor(
  databaseUrl: string,
  roomIds: string[],
  concurrency: number,
  seconds: number
): Promise<WriteFloorResult> {
  // The node's pool size (packages/db: 10).
  const sql = postgres(databaseUrl, { max: 10, onnotice: () => {} })
  try {
    const [author] = await sql<{ id: string }[]>`select id from users limit 1`
    let pending: Pending[] = []
    let statements = 0
    const run = async (batch: Pending[]) => {
      statements++
      try {
        const rooms = batch.map((p) => p.roomId)
        const texts = batch.map((p) => p.text)
        await sql.unsafe(STATEMENT, [rooms, texts, author!.id] as never[], { prepare: true })
        for (const p of batch) p.done()
      } catch (error) {
        for (const p of batch) p.done(error)
      }
    }
    const handOver = () => {
      const batch = pending
      pending = []
      if (batch.length) void run(batch)
    }
    const post = (roomId: string, text: string) =>
      new Promise<void>((resolve, reject) => {
        if (pending.length === 0) setImmediate(handOver)
        pending.push({ roomId, text, done: (error) => (error ? reject(error) : resolve()) })
        if (pending.length >= MAX_BATCH) handOver()
      })

    const latencies: number[] = []
    let sent = 0
    const cpuBefore = process.cpuUsage()
    const started = now()
    const end = started + seconds * 1000
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (now() < end) {
          const i = sent++
          const t = now()
          await post(roomIds[i % roomIds.length]!, `m ${i}`)
          latencies.push(now() - t)
        }
      })
    )
    const wall = (now() - started) / 1000
    const cpu = process.cpuUsage(cpuBefore)
    return {
      requests: latencies.length,
      requestsPerSecond: Math.round(latencies.length / wall),
      latencyMs: latencySummary(latencies),
      postsPerStatement: round(latencies.length / Math.max(1, statements), 2),
      clientCpuMicrosPerPost: round((cpu.user + cpu.system) / Math.max(1, latencies.length))
    }
  } finally {
    await sql.end()
  }
}
