// 5% loss with reordering and duplicates through LossyRelay between us and libudt 4.11: every byte exact, both ways.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildUdtPeer, killAllUdtPeers, skipWithoutLibudt } from '../support/libudt.js';
import { MB, randomData, runStreamCase, sha256, STREAM_CASES } from '../support/interop.js';

const skip = skipWithoutLibudt('ours-vs-libudt loss');
const SIZE = 4 * MB;
const IMPAIR = { seed: 17, loss: 0.05, reorderRate: 0.05, reorderDelayMs: [1, 8] as const, dupRate: 0.01 };

describe.skipIf(skip)('ours ↔ libudt 4.11: 5% loss, 5% reordering, 1% duplicates (both directions of the relay)', () => {
  let dir: string;
  let data: Buffer;
  let file: string;

  beforeAll(async () => {
    await buildUdtPeer();
    dir = await mkdtemp(join(tmpdir(), 'udt-interop-loss-'));
    data = randomData(SIZE);
    file = join(dir, 'src.bin');
    await writeFile(file, data);
  });

  afterEach(killAllUdtPeers);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each(STREAM_CASES)('4 MB, $name: exact', async ({ ours, sender, name }) => {
    const r = await runStreamCase({ ours, sender, data, file, outFile: join(dir, `out-${ours}-${sender}.bin`), impair: IMPAIR, timeoutMs: 90_000 });
    const s = r.ourStats;
    const perf = r.libudt.perf as Record<string, number> | null;
    const relay = r.relay!;
    console.log(
      `[interop loss] ${name}: ${SIZE / MB} MB in ${r.elapsedMs} ms; relay dropped ${relay.toTarget.dropped}+${relay.toClient.dropped}, ` +
        `reordered ${relay.toTarget.reordered}+${relay.toClient.reordered}; ours: sent ${s.pktSentTotal} retrans ${s.pktRetransTotal} ` +
        `NAK rcvd ${s.pktRecvNAKTotal} sent ${s.pktSentNAKTotal} EXP ${s.expTimeoutsTotal}; libudt: retrans ${perf?.pktRetransTotal} NAK sent ${perf?.pktSentNAKTotal}`,
    );
    expect(r.received.bytes).toBe(SIZE);
    expect(r.received.sha256).toBe(sha256(data));
    expect(r.ourCloseError).toBeNull();
    expect(relay.toTarget.dropped + relay.toClient.dropped).toBeGreaterThan(0);
    expect(relay.toTarget.reordered + relay.toClient.reordered).toBeGreaterThan(0);
    if (sender === 'ours') expect(s.pktRetransTotal).toBeGreaterThan(0);
    else expect(s.pktSentNAKTotal).toBeGreaterThan(0);
  }, 120_000);
});
