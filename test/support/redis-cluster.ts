import { createServer } from 'node:net';
import { execa, type ResultPromise } from 'execa';
import { Redis } from 'ioredis';
import { pollUntil } from '../../src/util/poll.ts';
import { makeTempDir, type TempDir } from './temp-dir.ts';

/** A Redis Cluster of a test run's own: three masters on loopback, no replicas. */
export interface PrivateCluster {
  /** The seed-node URL hangar takes: `redis://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`. */
  url: string;
  ports: number[];
  /** Kills every node and removes their directories. */
  stop(): Promise<void>;
}

/**
 * Starts three `redis-server --cluster-enabled yes` on free ports (each with its data and
 * cluster config in a temp dir), joins them with `redis-cli --cluster create` (16384 slots
 * over three masters), and waits until every node says `cluster_state:ok`.
 */
export async function startPrivateCluster(): Promise<PrivateCluster> {
  const ports: number[] = [];
  const dirs: TempDir[] = [];
  const nodes: ResultPromise[] = [];
  const stop = async () => {
    for (const node of nodes) node.kill('SIGKILL');
    await Promise.allSettled(nodes);
    await Promise.allSettled(dirs.map((dir) => dir.remove()));
  };
  try {
    for (let index = 0; index < 3; index += 1) {
      const port = await freeClusterPort(ports);
      const dir = await makeTempDir('hangar-cluster-');
      ports.push(port);
      dirs.push(dir);
      const node = execa(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--dir',
          dir.path,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '5000',
          '--save',
          '',
          '--appendonly',
          'no',
        ],
        { reject: false, stdin: 'ignore', stdout: 'ignore' },
      );
      nodes.push(node);
    }
    for (const port of ports) await answering(port);
    await execa(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((port) => `127.0.0.1:${port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { stdin: 'ignore' },
    );
    for (const port of ports) {
      await pollUntil(
        `cluster_state:ok on ${port}`,
        async () => ((await clusterInfo(port)).includes('cluster_state:ok') ? true : undefined),
        { timeoutMs: 20_000, intervalMs: 100 },
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `redis://${ports.map((port) => `127.0.0.1:${port}`).join(',')}`, ports, stop };
}

async function answering(port: number): Promise<void> {
  await pollUntil(
    `redis-server on ${port}`,
    async () => {
      const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
      redis.on('error', () => undefined);
      try {
        await redis.connect();
        return (await redis.ping()) === 'PONG' ? true : undefined;
      } catch {
        return undefined;
      } finally {
        redis.disconnect();
      }
    },
    { timeoutMs: 10_000, intervalMs: 50 },
  );
}

async function clusterInfo(port: number): Promise<string> {
  const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  try {
    return String(await redis.call('CLUSTER', 'INFO'));
  } finally {
    redis.disconnect();
  }
}

// A node also listens on its port + 10000 (the cluster bus): both must be free, and below 65536.
async function freeClusterPort(taken: readonly number[]): Promise<number> {
  for (let tries = 0; tries < 200; tries += 1) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    if (taken.includes(port)) continue;
    if ((await canListen(port)) && (await canListen(port + 10_000))) return port;
  }
  throw new Error('no free port pair for a cluster node');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
