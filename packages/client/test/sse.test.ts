// The SSE parser against the standard's edge cases: every line ending, lines and fields split across chunks,
// comments, a leading BOM, multi-line data, fields without a value, and frames without data.
import t from 'tap'
import { SseParser } from '../src/index.ts'

const parseAll = (chunks: string[]) => {
  const parser = new SseParser()
  return chunks.flatMap((chunk) => parser.push(chunk))
}

t.test('id, event and data lines; LF, CRLF and CR endings; comments', async (t) => {
  const text =
    ': ping\nid: 1\nevent: message\ndata: {"a":1}\n\r\nid: 2\r\nevent: ready\r\ndata: x\r\n\r\n:c\rdata: y\r\r'
  const frames = [
    { event: 'message', data: '{"a":1}', id: '1' },
    { event: 'ready', data: 'x', id: '2' },
    { event: 'message', data: 'y', id: undefined }
  ]
  t.same(parseAll([text]), frames)
  // Any split gives the same frames, a CRLF cut between its CR and its LF included.
  for (let i = 1; i < text.length; i++) t.same(parseAll([text.slice(0, i), text.slice(i)]), frames, `split at ${i}`)
  t.same(parseAll([...text]), frames, 'one character at a time')
})

t.test('BOM, multi-line data, a value without a space or colon, frames without data', async (t) => {
  const parser = new SseParser()
  t.same(parser.push('\uFEFFdata:a\ndata\ndata:  b\n\n'), [{ event: 'message', data: 'a\n\n b', id: undefined }])
  t.same(parser.push('id: 7\nevent: x\n\n'), [], 'no data: nothing dispatched')
  t.equal(parser.lastEventId, '7', 'the id is kept all the same')
  t.same(parser.push('event: y\ndata: z\n'), [], 'not dispatched before the blank line')
  t.same(parser.push('\n'), [{ event: 'y', data: 'z', id: undefined }], 'the event of an earlier frame does not leak')
  t.same(
    parser.push('id: a\0b\ndata: q\n\n'),
    [{ event: 'message', data: 'q', id: undefined }],
    'an id with NUL is ignored'
  )
  t.same(parser.push('retry: 10\nfoo: bar\ndata: r\n\n'), [{ event: 'message', data: 'r', id: undefined }])
})
