// What the test suites of the server, the realtime package and the local cluster share: a real SSE client, a
// real WebSocket client and one poller.
export { SseClient, WAIT_MS, type SseEvent, type StreamOptions } from './sse-client.ts'
export {
  listen,
  openStream,
  openUserStream,
  seqsByRoom,
  storedEvents,
  streamUrl,
  userStreamUrl,
  type Listenable,
  type Teardown
} from './streams.ts'
export { until } from './until.ts'
export { WsClient, type WsMessage, type WsOptions } from './ws-client.ts'
