// GET /metrics: Prometheus text, without a token, counting what really happened: open streams, events
// published and delivered, the publish-to-delivery latency histogram, slow-consumer disconnects, bus
// reconnects and HTTP request durations by route. Two apps built side by side keep separate counts.
import t from 'tap'
import { listen, openStream, until } from '@chat/testkit'
import { as, build, signUp } from '../helper.ts'
import { createRoom, joinRoom, post } from '../rooms-helper.ts'

/** `name{labels} value` lines → a map from the series (as written) to its value. */
function parse(text: string): Map<string, number> {
  const series = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    series.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return series
}

t.test('counts streams, publications, deliveries, latency and request durations', async (t) => {
  const app = await build(t)
  const base = await listen(app)
  const scrape = async () => {
    const res = await app.inject({ url: '/metrics' })
    t.equal(res.statusCode, 200)
    return res
  }
  const [owner, member] = await Promise.all([signUp(app), signUp(app)])
  const room = await createRoom(app, owner)
  await joinRoom(app, member, room.id)

  const first = await scrape()
  t.match(first.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  for (const family of [
    ['chat_streams_open', 'gauge'],
    ['chat_events_published_total', 'counter'],
    ['chat_events_delivered_total', 'counter'],
    ['chat_delivery_latency_seconds', 'histogram'],
    ['chat_slow_consumer_disconnects_total', 'counter'],
    ['chat_bus_reconnects_total', 'counter'],
    ['chat_http_request_duration_seconds', 'histogram']
  ]) {
    t.match(first.body, new RegExp(`^# HELP ${family[0]} \\S`, 'm'), `${family[0]} has help`)
    t.match(first.body, new RegExp(`^# TYPE ${family[0]} ${family[1]}$`, 'm'), `${family[0]} is a ${family[1]}`)
  }
  t.equal(parse(first.body).get('chat_streams_open{kind="room"}'), 0)

  const live = await openStream(t, base, room.id, { token: member.accessToken })
  const replaying = await openStream(t, base, room.id, { token: owner.accessToken, lastEventId: 0 })
  await replaying.waitForSeq(1)
  await until(async () => parse((await scrape()).body).get('chat_streams_open{kind="room"}') === 2, 'two open streams')
  for (const n of [1, 2, 3]) await post(app, owner, room.id, `metric ${n}`)
  await live.waitForSeq(4)
  await replaying.waitForSeq(4)

  const m = parse((await scrape()).body)
  t.equal(m.get('chat_streams_open{kind="room"}'), 2)
  t.equal(m.get('chat_events_published_total{type="member.joined"}'), 1)
  t.equal(m.get('chat_events_published_total{type="message"}'), 3)
  t.equal(m.get('chat_events_delivered_total'), 7, '3 live to each stream, 1 replayed')
  t.equal(m.get('chat_delivery_latency_seconds_count'), 3, 'once per live event on this node')
  t.equal(m.get('chat_delivery_latency_seconds_bucket{le="+Inf"}'), 3)
  t.ok(m.get('chat_delivery_latency_seconds_sum')! >= 0)
  t.equal(m.get('chat_slow_consumer_disconnects_total'), 0)
  t.equal(m.get('chat_bus_reconnects_total'), 0)
  const posts = 'chat_http_request_duration_seconds_count{method="POST",route="/rooms/message",status="201"}'
  t.equal(m.get(posts), 3, 'request durations by method, route and status')
  t.equal(m.get(posts.replace('_count', '_bucket').replace('{', '{le="+Inf",')), 3)
  const joins = 'chat_http_request_duration_seconds_count{method="POST",route="/rooms/join",status="200"}'
  t.equal(m.get(joins), 1)

  await as(app, member, { url: '/rooms/not-a-uuid' })
  live.close()
  await until(async () => parse((await scrape()).body).get('chat_streams_open{kind="room"}') === 1, 'the closed stream')
  const after = parse((await scrape()).body)
  t.equal(after.get('chat_streams_closed_total{reason="client_closed",kind="room"}'), 1)
  t.equal(after.get('chat_http_request_duration_seconds_count{method="GET",route="/rooms/:roomId",status="400"}'), 1)
})

t.test('apps built side by side keep separate counts', async (t) => {
  const [one, two] = await Promise.all([build(t), build(t)])
  const user = await signUp(one)
  const room = await createRoom(one, user)
  await post(one, user, room.id, 'only in one')
  const count = async (app: typeof one) =>
    parse((await app.inject({ url: '/metrics' })).body).get('chat_events_published_total{type="message"}')
  t.equal(await count(one), 1)
  t.equal(await count(two), undefined, 'nothing published on the other app')
})
