// udt-send's transfer: offers a file, continues from the receiver's offset, streams it, waits for the SHA-256 verdict.

import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { connect, type SocketOptions } from '../api/index.js';
import { CliError, ExitCode, toCliError } from './exit-codes.js';
import { formatBytes } from './format.js';
import type { ProgressBoard } from './progress.js';
import { closeGracefully, hostPortText, waitConnect } from './socket-util.js';
import { StatusInbox } from './status-inbox.js';
import { encodeOffer, transferSummary, type TransferSummary } from './transfer-protocol.js';

const READ_CHUNK = 1 << 20;

export interface SendFileOptions {
  file: string;
  /** Name to store the file under on the receiver (default: the file's base name). */
  name?: string;
  host: string;
  port: number;
  socket?: SocketOptions;
  board?: ProgressBoard | null;
  signal?: AbortSignal;
}

export interface SendSummary extends TransferSummary {
  to: string;
  retransmits: number;
  rttMs: number;
}

export async function openInput(file: string): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (err as Error).message;
    throw new CliError(`cannot read ${file}: ${why}`, ExitCode.LOCAL_FILE, code ?? 'LOCAL_FILE');
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new CliError(`cannot send ${file}: not a regular file`, ExitCode.LOCAL_FILE, 'NOT_A_FILE');
  }
  return { fh, size: st.size };
}

/** The file's bytes from 0 (hashed) with the receiver's prefix check and the final digest spliced in. */
async function* framed(fh: FileHandle, size: number, offset: number, onSent: (pos: number) => void, onDigest: (hex: string) => void): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let pos = 0;
  if (offset === 0) onSent(0);
  const source = size > 0 ? fh.createReadStream({ start: 0, end: size - 1, highWaterMark: READ_CHUNK, autoClose: false }) : Readable.from([]);
  for await (const chunk of source as AsyncIterable<Buffer>) {
    const start = pos;
    pos += chunk.length;
    if (pos <= offset) {
      hash.update(chunk);
      if (pos === offset) yield hash.copy().digest();
      continue;
    }
    if (start < offset) {
      hash.update(chunk.subarray(0, offset - start));
      yield hash.copy().digest();
      const rest = chunk.subarray(offset - start);
      hash.update(rest);
      yield rest;
    } else {
      hash.update(chunk);
      yield chunk;
    }
    onSent(pos);
  }
  if (pos !== size) throw new CliError(`the file changed size while being sent (${pos} of ${size} bytes)`, ExitCode.LOCAL_FILE, 'FILE_CHANGED');
  const digest = hash.digest();
  onDigest(digest.toString('hex'));
  yield digest;
}

export async function sendFile(o: SendFileOptions): Promise<SendSummary> {
  const { fh, size } = await openInput(o.file);
  const name = o.name ?? basename(o.file);
  const peer = hostPortText(o.host, o.port);
  const socket = connect({ ...o.socket, host: o.host, port: o.port, signal: o.signal });
  const inbox = new StatusInbox(socket, peer);
  let progress: ReturnType<ProgressBoard['add']> | null = null;
  try {
    try {
      await waitConnect(socket);
    } catch (err) {
      throw toCliError(err, peer);
    }
    socket.write(encodeOffer({ name, size }));
    const accept = await inbox.next();
    if (accept.type !== 'accept' || !Number.isSafeInteger(accept.offset) || accept.offset < 0 || accept.offset > size) {
      throw new CliError('the receiver answered the offer with something unexpected', ExitCode.CONNECTION_LOST, 'BAD_STATUS');
    }
    const offset = accept.offset;
    if (offset > 0) o.board?.log(`udt-send: resuming ${name} at ${formatBytes(offset)} of ${formatBytes(size)}`);
    progress = o.board?.add(`${name} → ${peer}`, size, offset) ?? null;
    const started = performance.now();
    let sha256 = '';
    try {
      const data = framed(fh, size, offset, (pos) => progress?.update(pos), (hex) => (sha256 = hex));
      await pipeline(data, socket, { end: false });
    } catch (err) {
      if (err instanceof CliError && err.code === 'FILE_CHANGED') throw err;
      throw await inbox.explain(err);
    }
    const done = await inbox.next();
    const seconds = (performance.now() - started) / 1000;
    if (done.type !== 'done') throw new CliError('the receiver did not confirm the transfer', ExitCode.CONNECTION_LOST, 'BAD_STATUS');
    if (done.sha256 !== sha256) {
      throw new CliError(`SHA-256 mismatch: sent ${sha256}, receiver confirmed ${done.sha256}`, ExitCode.CHECKSUM_MISMATCH, 'CHECKSUM_MISMATCH');
    }
    const stats = socket.getStats({ clear: false });
    progress?.finish();
    await closeGracefully(socket);
    return { ...transferSummary({ name, size, offset, seconds, sha256, engine: stats.engine }), to: peer, retransmits: stats.pktRetransTotal, rttMs: stats.msRTT };
  } catch (err) {
    progress?.finish();
    socket.destroy();
    if (o.signal?.aborted) throw new CliError('interrupted', ExitCode.INTERRUPTED, 'INTERRUPTED');
    throw err instanceof CliError ? err : toCliError(err, peer);
  } finally {
    await fh.close().catch(() => {});
  }
}
