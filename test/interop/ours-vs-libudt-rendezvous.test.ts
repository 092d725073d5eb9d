// Rendezvous between our socket and a libudt socket, each side starting first, with 2 MB moving each way at once.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/ts/api/index.js';
import { buildUdtPeer, expectCleanExit, killAllUdtPeers, skipWithoutLibudt, spawnUdtPeer } from '../support/libudt.js';
import { closed, freeUdpPort, receiveBytes, MB, randomData, sha256, sleep, within, writeAll } from '../support/interop.js';

const skip = skipWithoutLibudt('ours-vs-libudt rendezvous');
const LOCAL = '127.0.0.1';
const HEAD_START_MS = 600;

describe.skipIf(skip)('ours ↔ libudt 4.11: rendezvous', () => {
  let dir: string;

  beforeAll(async () => {
    await buildUdtPeer();
    dir = await mkdtemp(join(tmpdir(), 'udt-interop-rdv-'));
  });

  afterEach(killAllUdtPeers);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each(['libudt', 'ours'] as const)('%s starts first, the other joins 600 ms later: connected, 2 MB each way exact', async (first) => {
    const ours = randomData(2 * MB);
    const theirs = randomData(2 * MB);
    const theirsFile = join(dir, `theirs-${first}.bin`);
    const gotFile = join(dir, `got-${first}.bin`);
    await writeFile(theirsFile, theirs);
    const peer = await spawnUdtPeer([
      'connect', '--rendezvous', '--local-port', '0', '--host', LOCAL, '--port', '-', '--max-time', '60',
      '--send', theirsFile, '--recv', gotFile, '--expect-bytes', String(ours.length),
    ]);
    const libudtPort = Number((await peer.waitFor('bound', 10_000)).port);
    const ourPort = await freeUdpPort();
    const started = Date.now();
    const startLibudt = () => peer.writeLine(String(ourPort));
    const startOurs = () => connect({ host: LOCAL, port: libudtPort, localPort: ourPort, rendezvous: true });
    let socket;
    if (first === 'libudt') {
      startLibudt();
      await sleep(HEAD_START_MS);
      socket = startOurs();
    } else {
      socket = startOurs();
      await sleep(HEAD_START_MS);
      startLibudt();
    }
    const ending = closed(socket);
    await within(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      }),
      10_000,
      'rendezvous connect',
    );
    const connectedMs = Date.now() - started;
    const receiving = receiveBytes(socket, theirs.length);
    await within(writeAll(socket, ours), 30_000, 'send 2 MB');
    const got = await within(receiving, 30_000, 'receive 2 MB');
    expect(got.bytes).toBe(theirs.length);
    expect(got.sha256).toBe(sha256(theirs));
    socket.end();
    expect(await within(ending, 30_000, 'close')).toBeNull();
    const [done] = await expectCleanExit(peer, 30_000);
    const stats = socket.getStats({ clear: false });
    console.log(
      `[interop rdv] ${first} first: connected ${connectedMs} ms after the first start, done in ${Date.now() - started} ms; ` +
        `ours retrans ${stats.pktRetransTotal}, EXP ${stats.expTimeoutsTotal}; libudt retrans ${(done.perf as Record<string, number>).pktRetransTotal}`,
    );
    expect(sha256(await readFile(gotFile))).toBe(sha256(ours));
    expect(done.bytesRecv).toBe(ours.length);
    // libudt drops data that reaches it before its own connect() has finished; nothing of ours may need an EXP go-back.
    expect(stats.expTimeoutsTotal).toBe(0);
  });
});
