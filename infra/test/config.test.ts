// The deployment files that no cluster test runs: docker-compose.yml must validate, and the two nginx variants
// must stay one config (the local one differs only in the marked blocks, and the compose one names exactly the
// compose file's nodes). There is no Docker engine here, so `docker-compose config` is as far as it goes.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { WORKSPACE_ROOT } from '../cluster/cluster.ts'
import { NGINX_TEMPLATE, renderNginxConf } from '../cluster/nginx.ts'

const COMPOSE_FILE = join(WORKSPACE_ROOT, 'docker-compose.yml')
const template = readFileSync(NGINX_TEMPLATE, 'utf8')

/** docker-compose (v1, Debian's package) or the `docker compose` plugin, whichever is installed. */
function composeCommand(): string[] | null {
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose']
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose']
  return null
}

function compose(args: string[], env: Record<string, string | undefined>, files = [COMPOSE_FILE]) {
  const [bin, ...pre] = composeCommand()!
  return spawnSync(bin!, [...pre, ...files.flatMap((f) => ['-f', f]), ...args], {
    cwd: WORKSPACE_ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env }
  })
}

const upstreamNames = [...template.matchAll(/^\s*server ([\w.-]+):3000\b/gm)].map((m) => m[1])

t.test('docker-compose.yml validates', { skip: composeCommand() ? false : 'no docker-compose binary' }, async (t) => {
  const ok = compose(['config', '-q'], { JWT_SECRET: 'x'.repeat(64) })
  t.equal(ok.status, 0, `docker-compose config accepts the file${ok.stderr ? `: ${ok.stderr}` : ''}`)

  const services = compose(['config', '--services'], { JWT_SECRET: 'x'.repeat(64) })
    .stdout.trim()
    .split('\n')
    .sort()
  const redisCluster = ['redis-c1', 'redis-c2', 'redis-c3', 'redis-c4', 'redis-c5', 'redis-c6', 'redis-cluster-init']
  t.same(
    services,
    ['nginx', 'node1', 'node2', 'node3', 'postgres', 'redis', ...redisCluster].sort(),
    'the services (the six Redis Cluster nodes and their join job in the redis-cluster profile)'
  )
  const seeds = 'redis-c1:7000,redis-c2:7000,redis-c3:7000'
  const onCluster = compose(['--profile', 'redis-cluster', 'config'], {
    JWT_SECRET: 'x'.repeat(64),
    REDIS_URL: '',
    REDIS_CLUSTER_NODES: seeds
  })
  t.equal(onCluster.status, 0, `the redis-cluster profile validates${onCluster.stderr ? `: ${onCluster.stderr}` : ''}`)
  t.match(onCluster.stdout, `REDIS_CLUSTER_NODES: ${seeds}`, 'and the nodes get the seeds')
  t.same(
    upstreamNames,
    services.filter((s) => s.startsWith('node')),
    "nginx.conf's upstream lists exactly the compose file's nodes"
  )

  const unset = compose(['config', '-q'], { JWT_SECRET: '' })
  t.not(unset.status, 0, 'it refuses to start without a shared JWT_SECRET')
  t.match(unset.stderr, /JWT_SECRET/, 'and says so')
})

t.test(
  'the k6 override (infra/k6/docker-compose.k6.yml) validates on top of it',
  { skip: composeCommand() ? false : 'no docker-compose binary' },
  async (t) => {
    const files = [COMPOSE_FILE, join(WORKSPACE_ROOT, 'infra/k6/docker-compose.k6.yml')]
    const merged = compose(['config'], { JWT_SECRET: 'x'.repeat(64) }, files)
    t.equal(merged.status, 0, `docker-compose config accepts both files${merged.stderr ? `: ${merged.stderr}` : ''}`)
    t.match(merged.stdout, /MESSAGE_RATE_LIMIT/, 'and the nodes get the raised limits')
  }
)

t.test('the local nginx config is the compose one with only the marked blocks replaced', async (t) => {
  const local = renderNginxConf(template, {
    listen: '127.0.0.1:4999',
    upstreams: ['127.0.0.1:5001', '127.0.0.1:5002'],
    local: true
  })
  t.notMatch(local, /@local:/, 'every marked block was replaced')
  t.notMatch(local, /node\d:3000/, 'no compose host name is left')
  t.match(local, /^\s*listen 127\.0\.0\.1:4999;$/m)
  t.match(local, /^\s*server 127\.0\.0\.1:5001 max_fails=1 fail_timeout=5s;\n\s*server 127\.0\.0\.1:5002 /m)
  t.match(local, /^\s*access_log logs\/access\.log chat;$/m, 'logs stay under the prefix')
  t.match(local, /^\s*proxy_temp_path temp\/proxy;$/m, 'so do temp files')

  const directives = (conf: string) =>
    conf
      .split('\n')
      .map((line) => line.replace(/#.*/, '').trim())
      .filter((line) => line && !/^(listen |server \S+ max_fails=|access_log |\w+_temp_path )/.test(line))
  t.same(directives(local), directives(template), 'everything else is the same, line for line')
})
