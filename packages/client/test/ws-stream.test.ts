// The user stream over the WebSocket transport (GET /ws), behind the same event interface as SSE.
import { streamScenarios } from './stream-scenarios.ts'

streamScenarios('websocket')
