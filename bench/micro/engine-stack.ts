// The whole stack on each engine: one UDT connection moves 32 MB over loopback (client and server in this process).
// Usage: node --import tsx bench/micro/engine-stack.ts [runs=5] [MB=32]; set UDT_* engine knobs in the environment.

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type UdtSocket } from '../../src/ts/api/index.js';
import { availableKinds, median } from './engine-common.js';

const runs = Number(process.argv[2] ?? 5);
const size = Number(process.argv[3] ?? 32) * 1024 * 1024;
const data = randomBytes(size);

interface Run {
  ms: number;
  cpu: number;
  retransPct: number;
  recvRate: number;
}

async function once_(engine: 'dgram' | 'native'): Promise<Run> {
  const server = createServer({ engine });
  const done = new Promise<number>((resolve) =>
    server.on('connection', (s: UdtSocket) => {
      let n = 0;
      s.on('data', (d: Buffer) => (n += d.length));
      s.on('end', () => resolve(n));
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const client = connect({ host: '127.0.0.1', port: server.address()!.port, engine });
  await once(client, 'connect');
  for (let off = 0; off < size; off += 256 * 1024) {
    if (!client.write(data.subarray(off, off + 256 * 1024))) await once(client, 'drain');
  }
  client.end();
  const got = await done;
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  if (got !== size) throw new Error(`received ${got} of ${size} bytes`);
  const st = client.getStats({ clear: false }) as unknown as Record<string, number>;
  client.destroy();
  server.close();
  return { ms, cpu: (cpu.user + cpu.system) / 1e6, retransPct: (100 * st.pktRetransTotal) / st.pktSentTotal, recvRate: st.pktRecvRate };
}

console.log(`${size / 1048576} MB over one UDT connection on loopback, median of ${runs} runs`);
console.log('engine   time ms   Gbit/s   CPU s   retrans %   receiver rate estimate (pkt/s)   worst time ms');
for (const kind of availableKinds(['dgram', 'native'])) {
  const rs: Run[] = [];
  for (let i = 0; i < runs; i++) rs.push(await once_(kind as 'dgram' | 'native'));
  const ms = median(rs.map((r) => r.ms));
  console.log(
    `${kind.padEnd(7)} ${ms.toFixed(0).padStart(8)}  ${((size * 8) / (ms / 1000) / 1e9).toFixed(2).padStart(7)}  ${median(rs.map((r) => r.cpu)).toFixed(2).padStart(6)}  ${median(rs.map((r) => r.retransPct)).toFixed(1).padStart(10)}  ${median(rs.map((r) => r.recvRate)).toFixed(0).padStart(31)}  ${Math.max(...rs.map((r) => r.ms)).toFixed(0).padStart(14)}`,
  );
}
process.exit(0);
