// One incoming udt-send transfer: checks the offer, resumes from <name>.part, stores, verifies SHA-256, renames.

import { createHash, timingSafeEqual, type Hash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { UdtSocket } from '../api/index.js';
import { ByteReader } from './byte-reader.js';
import { CliError, ExitCode, toCliError } from './exit-codes.js';
import { formatBytes } from './format.js';
import type { ProgressBoard } from './progress.js';
import {
  decodeOffer,
  decodePreamble,
  DIGEST_BYTES,
  encodeStatus,
  OfferError,
  PREAMBLE_BYTES,
  type Offer,
  type ReceiverMessage,
  type RemoteErrorCode,
  transferSummary,
  type TransferSummary,
} from './transfer-protocol.js';
import { closeGracefully, peerName } from './socket-util.js';

const OFFER_TIMEOUT_MS = 30_000;
const READ_MAX = 1 << 20;

export interface ReceiveSummary extends TransferSummary {
  path: string;
  from: string;
  lossPackets: number;
}

/** Transfers in progress, by file name, so a second offer for the same name takes the first one over. */
export class ActiveTransfers {
  private readonly byKey = new Map<string, Transfer>();

  /** Claims `name` and `name.part`; an older transfer of the same name is stopped first (the usual resume case). */
  async claim(t: Transfer): Promise<void> {
    for (;;) {
      const holder = this.byKey.get(t.name) ?? this.byKey.get(`${t.name}.part`);
      if (!holder) break;
      if (holder.name !== t.name) throw new OfferError('BUSY', `'${holder.name}' is being received and uses the same file names`);
      await holder.stop('superseded');
    }
    this.byKey.set(t.name, t);
    this.byKey.set(`${t.name}.part`, t);
  }

  release(t: Transfer): void {
    for (const k of [t.name, `${t.name}.part`]) if (this.byKey.get(k) === t) this.byKey.delete(k);
  }

  /** Stops every transfer; resolves once their partial files are closed (they stay for a later resume). */
  async stopAll(): Promise<void> {
    await Promise.all([...new Set(this.byKey.values())].map((t) => t.stop('shutdown')));
  }
}

class Transfer {
  stoppedFor: 'superseded' | 'shutdown' | null = null;
  private done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    readonly name: string,
    readonly socket: UdtSocket,
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  /** Ends the transfer from our side (its .part stays) and resolves once it has let go of its files. */
  stop(why: 'superseded' | 'shutdown'): Promise<void> {
    this.stoppedFor ??= why;
    this.socket.destroy();
    return this.done;
  }

  finished(): void {
    this.resolveDone();
  }
}

export interface ReceiveContext {
  dir: string;
  active: ActiveTransfers;
  board: ProgressBoard | null;
}

function sendStatus(socket: UdtSocket, msg: ReceiverMessage): void {
  if (!socket.destroyed && socket.writable) socket.write(encodeStatus(msg));
}

/** Tells the sender why, closes, and returns the local error to raise. */
async function refuse(socket: UdtSocket, code: RemoteErrorCode, message: string, exit: CliError['exitCode']): Promise<CliError> {
  sendStatus(socket, { type: 'error', code, message });
  await closeGracefully(socket);
  return new CliError(message, exit, code);
}

async function readOffer(reader: ByteReader, socket: UdtSocket): Promise<Offer> {
  const timer = setTimeout(() => socket.destroy(new CliError('no offer within 30 s', ExitCode.CONNECTION_LOST, 'OFFER_TIMEOUT')), OFFER_TIMEOUT_MS);
  try {
    const pre = await reader.exact(PREAMBLE_BYTES);
    if (!pre) throw new CliError('the sender closed before sending a file offer', ExitCode.CONNECTION_LOST, 'NO_OFFER');
    const json = await reader.exact(decodePreamble(pre));
    if (!json) throw new CliError('the sender closed in the middle of the offer', ExitCode.CONNECTION_LOST, 'NO_OFFER');
    return decodeOffer(json);
  } finally {
    clearTimeout(timer);
  }
}

async function hashRange(fh: FileHandle, length: number, hash: Hash): Promise<void> {
  const buf = Buffer.allocUnsafe(Math.min(READ_MAX, Math.max(1, length)));
  let pos = 0;
  while (pos < length) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, length - pos), pos);
    if (bytesRead === 0) throw new Error('partial file shrank while being read');
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
}

async function writeAll(fh: FileHandle, data: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, data.length - off, position + off);
    off += bytesWritten;
  }
}

async function partStats(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function storageError(err: unknown, name: string, written: number): { code: RemoteErrorCode; message: string } {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return { code: 'NO_SPACE', message: `disk full on the receiver (${code}) after ${formatBytes(written)}; ${name}.part is kept for a later resume` };
  }
  return { code: 'STORAGE', message: `cannot write ${name}.part on the receiver: ${(err as Error).message}` };
}

/** Runs one transfer to the end; resolves with its summary or rejects with a CliError (the sender has been told). */
export async function receiveTransfer(socket: UdtSocket, ctx: ReceiveContext): Promise<ReceiveSummary> {
  const from = peerName(socket);
  const reader = new ByteReader(socket);
  let offer: Offer;
  try {
    offer = await readOffer(reader, socket);
  } catch (err) {
    if (err instanceof OfferError) throw await refuse(socket, err.code, err.message, ExitCode.REFUSED);
    socket.destroy();
    throw toCliError(err, from);
  }
  const transfer = new Transfer(offer.name, socket);
  try {
    await ctx.active.claim(transfer);
  } catch (err) {
    transfer.finished();
    if (err instanceof OfferError) throw await refuse(socket, err.code, err.message, ExitCode.REFUSED);
    throw err;
  }
  try {
    return await storeFile(socket, reader, offer, transfer, ctx, from);
  } finally {
    ctx.active.release(transfer);
    transfer.finished();
  }
}

async function storeFile(socket: UdtSocket, reader: ByteReader, offer: Offer, transfer: Transfer, ctx: ReceiveContext, from: string): Promise<ReceiveSummary> {
  const { name, size } = offer;
  const finalPath = join(ctx.dir, name);
  const partPath = `${finalPath}.part`;
  let fh: FileHandle;
  let offset = 0;
  try {
    const st = await partStats(partPath);
    if (st && !st.isFile()) throw Object.assign(new Error(`${name}.part exists and is not a regular file`), { code: 'EEXIST' });
    if (st && st.size <= size) offset = st.size;
    const flags = offset > 0 ? constants.O_RDWR | constants.O_NOFOLLOW : constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
    fh = await open(partPath, flags, 0o644);
  } catch (err) {
    const e = storageError(err, name, 0);
    throw await refuse(socket, e.code, e.message, ExitCode.REMOTE_STORAGE);
  }
  const progress = ctx.board?.add(`${name} ← ${from}`, size, offset) ?? null;
  let pos = offset;
  let keepPart = true;
  try {
    sendStatus(socket, { type: 'accept', offset, version: 1 });
    const started = performance.now();
    const hash = createHash('sha256');
    if (offset > 0) {
      await hashRange(fh, offset, hash);
      const theirs = await reader.exact(DIGEST_BYTES);
      if (!theirs) throw lostError(name, pos, size);
      if (!timingSafeEqual(theirs, hash.copy().digest())) {
        keepPart = false;
        throw await refuse(
          socket,
          'RESUME_MISMATCH',
          `${name}.part on the receiver does not match the start of the sender's file; it was discarded, send again to start over`,
          ExitCode.CHECKSUM_MISMATCH,
        );
      }
    }
    while (pos < size) {
      const chunk = await reader.chunk(Math.min(READ_MAX, size - pos));
      if (!chunk) throw lostError(name, pos, size);
      hash.update(chunk);
      try {
        await writeAll(fh, chunk, pos);
      } catch (err) {
        const e = storageError(err, name, pos);
        throw await refuse(socket, e.code, e.message, ExitCode.REMOTE_STORAGE);
      }
      pos += chunk.length;
      progress?.update(pos);
    }
    const theirs = await reader.exact(DIGEST_BYTES);
    if (!theirs) throw lostError(name, pos, size);
    const ours = hash.digest();
    if (!timingSafeEqual(theirs, ours)) {
      keepPart = false;
      throw await refuse(
        socket,
        'CHECKSUM_MISMATCH',
        `SHA-256 mismatch for ${name}: received ${ours.toString('hex')}, sender has ${theirs.toString('hex')}; the partial file was discarded`,
        ExitCode.CHECKSUM_MISMATCH,
      );
    }
    try {
      await fh.datasync();
      await fh.close();
      await rename(partPath, finalPath);
    } catch (err) {
      const e = storageError(err, name, pos);
      throw await refuse(socket, e.code, e.message, ExitCode.REMOTE_STORAGE);
    }
    const seconds = (performance.now() - started) / 1000;
    const sha256 = ours.toString('hex');
    const stats = socket.getStats({ clear: false });
    sendStatus(socket, { type: 'done', sha256, bytes: size, name });
    void closeGracefully(socket);
    progress?.finish();
    return { ...transferSummary({ name, size, offset, seconds, sha256, engine: stats.engine }), path: finalPath, from, lossPackets: stats.pktRcvLossTotal };
  } catch (err) {
    progress?.finish();
    await fh.close().catch(() => {});
    if (!keepPart) await unlink(partPath).catch(() => {});
    socket.destroy();
    if (transfer.stoppedFor === 'superseded') throw new CliError(`transfer of ${name} from ${from} was taken over by a newer one`, ExitCode.CONNECTION_LOST, 'SUPERSEDED');
    if (transfer.stoppedFor === 'shutdown') throw new CliError(`stopped receiving ${name} from ${from}; ${name}.part kept`, ExitCode.INTERRUPTED, 'INTERRUPTED');
    if (err instanceof CliError) throw err;
    const e = toCliError(err, from);
    throw new CliError(`${e.message}; ${name}.part kept at ${formatBytes(pos)} of ${formatBytes(size)}`, e.exitCode, e.code, { cause: err });
  }
}

function lostError(name: string, pos: number, size: number): CliError {
  return new CliError(
    `the sender went away after ${formatBytes(pos)} of ${formatBytes(size)}; ${name}.part kept (send again to resume)`,
    ExitCode.CONNECTION_LOST,
    'SENDER_GONE',
  );
}
