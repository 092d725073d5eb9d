// --raw mode: a plain UDT byte stream (no header, no checksum exchange) to or from any UDT4 stream peer.

import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { open } from 'node:fs/promises';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { connect, type SocketOptions, type UdtSocket } from '../api/index.js';
import { CliError, ExitCode, toCliError } from './exit-codes.js';
import type { ProgressBoard, ProgressItem } from './progress.js';
import { openInput } from './send-file.js';
import { hostPortText, listenOn, peerName, waitConnect } from './socket-util.js';

export interface RawSummary {
  ok: true;
  mode: 'raw';
  peer: string;
  bytes: number;
  seconds: number;
  mbps: number;
  sha256: string;
  retransmits: number;
  lossPackets: number;
  engine: string;
}

/** Counts and hashes the bytes flowing through, reporting progress. */
class Meter {
  readonly hash: Hash = createHash('sha256');
  readonly started = performance.now();
  bytes = 0;

  constructor(private readonly progress: ProgressItem | null) {}

  transform(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        this.hash.update(chunk);
        this.bytes += chunk.length;
        this.progress?.update(this.bytes);
        cb(null, chunk);
      },
    });
  }

  stop(): void {
    this.progress?.finish();
  }

  summary(socket: UdtSocket, peer: string): RawSummary {
    this.stop();
    const seconds = (performance.now() - this.started) / 1000;
    const stats = socket.getStats({ clear: false });
    return {
      ok: true,
      mode: 'raw',
      peer,
      bytes: this.bytes,
      seconds,
      mbps: seconds > 0 ? (this.bytes * 8) / seconds / 1e6 : 0,
      sha256: this.hash.digest('hex'),
      retransmits: stats.pktRetransTotal,
      lossPackets: stats.pktRcvLossTotal,
      engine: stats.engine,
    };
  }
}

export async function rawSend(o: { input: string; host: string; port: number; socket?: SocketOptions; board?: ProgressBoard | null; signal?: AbortSignal }): Promise<RawSummary> {
  let source: Readable;
  let total: number | null = null;
  if (o.input === '-') {
    source = process.stdin;
  } else {
    const { fh, size } = await openInput(o.input);
    source = fh.createReadStream({ highWaterMark: 1 << 20 });
    total = size;
  }
  const peer = hostPortText(o.host, o.port);
  const socket = connect({ ...o.socket, host: o.host, port: o.port, signal: o.signal });
  try {
    await waitConnect(socket);
  } catch (err) {
    source.destroy();
    throw toCliError(err, peer);
  }
  socket.resume();
  const meter = new Meter(o.board?.add(`${o.input === '-' ? 'stdin' : o.input} → ${peer}`, total) ?? null);
  try {
    await pipeline(source, meter.transform(), socket);
  } catch (err) {
    meter.stop();
    socket.destroy();
    if (o.signal?.aborted) throw new CliError('interrupted', ExitCode.INTERRUPTED, 'INTERRUPTED');
    throw toCliError(err, peer);
  }
  return meter.summary(socket, peer);
}

export async function rawReceive(o: {
  output: string;
  host?: string;
  port: number;
  socket?: SocketOptions;
  board?: ProgressBoard | null;
  signal?: AbortSignal;
  onListening?: (address: string, port: number) => void;
}): Promise<RawSummary> {
  let out: Writable = process.stdout;
  if (o.output !== '-') {
    try {
      out = (await open(o.output, 'w')).createWriteStream();
    } catch (err) {
      throw new CliError(`cannot write ${o.output}: ${(err as Error).message}`, ExitCode.LOCAL_FILE, (err as NodeJS.ErrnoException).code ?? 'LOCAL_FILE');
    }
  }
  const server = await listenOn(o.socket ?? {}, o.port, o.host);
  const addr = server.address()!;
  o.onListening?.(addr.address, addr.port);
  const onAbort = () => {
    server.closeAllConnections();
    server.close();
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const [socket] = (await once(server, 'connection', { signal: o.signal })) as [UdtSocket];
    server.close();
    const peer = peerName(socket);
    const meter = new Meter(o.board?.add(`${peer} → ${o.output === '-' ? 'stdout' : o.output}`, null) ?? null);
    try {
      await pipeline(socket, meter.transform(), out, { end: out !== process.stdout });
    } catch (err) {
      meter.stop();
      socket.destroy();
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') throw new CliError(`cannot write ${o.output}: disk full (${code})`, ExitCode.REMOTE_STORAGE, code);
      throw toCliError(err, peer);
    }
    return meter.summary(socket, peer);
  } catch (err) {
    if (o.signal?.aborted) throw new CliError('interrupted', ExitCode.INTERRUPTED, 'INTERRUPTED');
    throw err;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    server.close();
    if (out !== process.stdout && !out.destroyed) out.destroy();
  }
}
