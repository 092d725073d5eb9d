// The udt-send / udt-recv file protocol on a UDT stream: offer header, resume offset, data, SHA-256, status lines.
//
// sender → receiver:  "UDTF" | u8 version | u32 length | JSON {name, size}
// receiver → sender:  {"type":"accept","offset":N}\n            (or {"type":"error",...}\n and close)
// sender → receiver:  [32-byte SHA-256 of bytes 0..N-1 when N > 0] | bytes N..size-1 | 32-byte SHA-256 of the file
// receiver → sender:  {"type":"done","sha256":...}\n              (or {"type":"error",...}\n)
// The sender closes after reading the final status (UDT has no half-close).

import { StringDecoder } from 'node:string_decoder';
import { CliError, ExitCode, type ExitCodeValue } from './exit-codes.js';

export const MAGIC = Buffer.from('UDTF', 'latin1');
export const VERSION = 1;
export const PREAMBLE_BYTES = 9;
export const MAX_OFFER_BYTES = 16 * 1024;
export const DIGEST_BYTES = 32;
export const MAX_STATUS_LINE = 16 * 1024;
const MAX_NAME_BYTES = 255;

/** What both ends report about a finished file transfer (each adds its own view). */
export interface TransferSummary {
  ok: true;
  name: string;
  size: number;
  /** Bytes the receiver already had from an earlier, interrupted attempt. */
  resumedFrom: number;
  /** Bytes moved by this run. */
  bytes: number;
  seconds: number;
  mbps: number;
  sha256: string;
  engine: string;
}

export function transferSummary(t: { name: string; size: number; offset: number; seconds: number; sha256: string; engine: string }): TransferSummary {
  const bytes = t.size - t.offset;
  const mbps = t.seconds > 0 ? (bytes * 8) / t.seconds / 1e6 : 0;
  return { ok: true, name: t.name, size: t.size, resumedFrom: t.offset, bytes, seconds: t.seconds, mbps, sha256: t.sha256, engine: t.engine };
}

export interface Offer {
  name: string;
  size: number;
}

export type RemoteErrorCode =
  | 'BAD_NAME'
  | 'BAD_OFFER'
  | 'VERSION'
  | 'BUSY'
  | 'NO_SPACE'
  | 'STORAGE'
  | 'RESUME_MISMATCH'
  | 'CHECKSUM_MISMATCH'
  | 'INTERNAL';

export type ReceiverMessage =
  | { type: 'accept'; offset: number; version: number }
  | { type: 'done'; sha256: string; bytes: number; name: string }
  | { type: 'error'; code: RemoteErrorCode; message: string };

const REMOTE_EXIT: Record<RemoteErrorCode, ExitCodeValue> = {
  BAD_NAME: ExitCode.REFUSED,
  BAD_OFFER: ExitCode.REFUSED,
  VERSION: ExitCode.REFUSED,
  BUSY: ExitCode.REFUSED,
  NO_SPACE: ExitCode.REMOTE_STORAGE,
  STORAGE: ExitCode.REMOTE_STORAGE,
  RESUME_MISMATCH: ExitCode.CHECKSUM_MISMATCH,
  CHECKSUM_MISMATCH: ExitCode.CHECKSUM_MISMATCH,
  INTERNAL: ExitCode.FAILURE,
};

/** The sender-side error for a receiver's error status. */
export function remoteError(msg: { code: string; message: string }): CliError {
  const exit = REMOTE_EXIT[msg.code as RemoteErrorCode] ?? ExitCode.FAILURE;
  return new CliError(`receiver: ${msg.message}`, exit, msg.code);
}

/** Why a file name is unsafe to create inside the receive directory, or null when it is fine. */
export function unsafeNameReason(name: string): string | null {
  if (name.length === 0) return 'the file name is empty';
  if (name.includes('\0')) return 'the file name contains a NUL byte';
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `the file name is longer than ${MAX_NAME_BYTES} bytes`;
  if (name.includes('/') || name.includes('\\')) return `the file name '${printable(name)}' contains a path separator (only a plain name is accepted)`;
  if (name === '.' || name === '..') return `'${name}' is not a file name`;
  if (/[\x00-\x1f\x7f]/.test(name)) return 'the file name contains control characters';
  return null;
}

function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, '?');
}

export function encodeOffer(offer: Offer): Buffer {
  const json = Buffer.from(JSON.stringify({ name: offer.name, size: offer.size }));
  const pre = Buffer.alloc(PREAMBLE_BYTES);
  MAGIC.copy(pre, 0);
  pre.writeUInt8(VERSION, 4);
  pre.writeUInt32BE(json.length, 5);
  return Buffer.concat([pre, json]);
}

/** A problem with what the sender sent, answered with an error status. */
export class OfferError extends Error {
  constructor(
    readonly code: RemoteErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Checks the fixed preamble; returns the length of the JSON that follows. */
export function decodePreamble(pre: Buffer): number {
  if (!pre.subarray(0, 4).equals(MAGIC)) throw new OfferError('BAD_OFFER', 'not a udt-send stream (bad magic; use --raw for a plain byte stream)');
  const version = pre.readUInt8(4);
  if (version !== VERSION) throw new OfferError('VERSION', `protocol version ${version} is not supported (receiver speaks ${VERSION})`);
  const length = pre.readUInt32BE(5);
  if (length === 0 || length > MAX_OFFER_BYTES) throw new OfferError('BAD_OFFER', `offer header of ${length} bytes is out of range`);
  return length;
}

export function decodeOffer(json: Buffer): Offer {
  let v: unknown;
  try {
    v = JSON.parse(json.toString('utf8'));
  } catch {
    throw new OfferError('BAD_OFFER', 'offer header is not valid JSON');
  }
  const o = v as Partial<Offer> | null;
  if (typeof o !== 'object' || o === null || typeof o.name !== 'string') throw new OfferError('BAD_OFFER', 'offer header has no file name');
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) throw new OfferError('BAD_OFFER', 'offer header has no valid size');
  const reason = unsafeNameReason(o.name);
  if (reason) throw new OfferError('BAD_NAME', `refused: ${reason}`);
  return { name: o.name, size: o.size };
}

export function encodeStatus(msg: ReceiverMessage): string {
  return `${JSON.stringify(msg)}\n`;
}

export function parseStatus(line: string): ReceiverMessage {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new CliError('the receiver sent an unreadable status (is it udt-recv?)', ExitCode.CONNECTION_LOST, 'BAD_STATUS');
  }
  const m = v as { type?: unknown } | null;
  if (typeof m !== 'object' || m === null || (m.type !== 'accept' && m.type !== 'done' && m.type !== 'error')) {
    throw new CliError('the receiver sent an unknown status', ExitCode.CONNECTION_LOST, 'BAD_STATUS');
  }
  return v as ReceiverMessage;
}

/** Splits a byte stream into newline-terminated lines, bounding the length of each. */
export class LineSplitter {
  private pending = '';
  private readonly decoder = new StringDecoder('utf8');

  push(chunk: Buffer): string[] {
    this.pending += this.decoder.write(chunk);
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    if (this.pending.length > MAX_STATUS_LINE) throw new CliError('status line from the peer is too long', ExitCode.CONNECTION_LOST, 'BAD_STATUS');
    return lines.filter((l) => l.length > 0);
  }
}
