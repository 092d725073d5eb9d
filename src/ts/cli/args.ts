// Command-line parsing helpers: util.parseArgs with usage errors, HOST:PORT, sizes, rates and shared socket flags.

import { isIP } from 'node:net';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { SocketOptions } from '../api/index.js';
import { CliError, ExitCode } from './exit-codes.js';
import type { ProgressMode } from './progress.js';

export function usageError(message: string): CliError {
  return new CliError(message, ExitCode.USAGE, 'USAGE');
}

/** parseArgs with strict checking; its errors become usage errors. */
export function parseCli<T extends ParseArgsConfig>(config: T, argv: string[]): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs({ ...config, args: argv, strict: true } as T);
  } catch (err) {
    throw usageError((err as Error).message);
  }
}

/** "host:port" or "[v6addr]:port"; a bare IPv6 address with a port is ambiguous and refused. */
export function parseHostPort(text: string): { host: string; port: number } {
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (bracketed) {
    [, host, portText] = bracketed;
    if (isIP(host) !== 6) throw usageError(`'${host}' in '${text}' is not an IPv6 address`);
  } else {
    const i = text.lastIndexOf(':');
    if (i <= 0 || text.indexOf(':') !== i) throw usageError(`expected HOST:PORT or [IPv6]:PORT, got '${text}'`);
    host = text.slice(0, i);
    portText = text.slice(i + 1);
  }
  return { host, port: parsePort(portText) };
}

export function parsePort(text: string, allowZero = false): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 65535) throw usageError(`invalid port '${text}'`);
  return n;
}

export function parseIntFlag(name: string, text: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw usageError(`--${name} must be an integer in [${min}, ${max}], got '${text}'`);
  return n;
}

export function parseNumberFlag(name: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min) throw usageError(`--${name} must be a number >= ${min}, got '${text}'`);
  return n;
}

const UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, ki: 2 ** 10, mi: 2 ** 20, gi: 2 ** 30, ti: 2 ** 40 };

/** "1500", "64K", "10M", "1.5G", "256MiB": decimal SI suffixes, binary with "i"; a trailing "B"/"b" is ignored. */
export function parseQuantity(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]i?)?[bB]?$/i.exec(text.trim());
  const value = m ? Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()] : NaN;
  if (!Number.isFinite(value) || value <= 0) throw usageError(`--${name}: cannot read '${text}' (examples: 1000, 64K, 10M, 1.5G, 256Mi)`);
  return Math.round(value);
}

/** Flags every tool accepts and hands to the socket API. */
export const socketFlags = {
  mss: { type: 'string' },
  engine: { type: 'string' },
  congestion: { type: 'string' },
  bandwidth: { type: 'string', short: 'b' },
  timeout: { type: 'string' },
  'idle-timeout': { type: 'string' },
} as const;

export const socketFlagsHelp = `Connection options:
  --mss BYTES            packet size including IP/UDP headers (default 1500)
  --engine E             auto | native | dgram (default auto)
  --congestion C         udt (default, as libudt), bbr (model-based, for lossy long paths),
                         fixed (a constant rate: needs --bandwidth)
  -b, --bandwidth RATE   cap the send rate, bits/s (e.g. 500M, 2G)
  --timeout MS           connection attempt time-out (default 3000)
  --idle-timeout MS      declare the peer dead after this much silence (default 10000)`;

export function socketOptionsFrom(values: Record<string, unknown>): SocketOptions {
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const options: SocketOptions = {};
  const mss = parseIntFlag('mss', str('mss'), 76, 65535);
  if (mss !== undefined) options.mss = mss;
  const engine = str('engine');
  if (engine !== undefined) {
    if (engine !== 'auto' && engine !== 'native' && engine !== 'dgram') throw usageError(`--engine must be auto, native or dgram, got '${engine}'`);
    options.engine = engine;
  }
  const bandwidth = parseQuantity('bandwidth', str('bandwidth'));
  if (bandwidth !== undefined) options.maxBandwidth = Math.max(1, Math.round(bandwidth / 8));
  const congestion = str('congestion');
  if (congestion !== undefined) {
    if (congestion === 'fixed' && bandwidth === undefined) throw usageError('--congestion fixed needs --bandwidth RATE');
    // The library checks the name (an unknown one fails with ERR_UDT_INVALID_ARG, exit 2).
    options.congestion = congestion as NonNullable<SocketOptions['congestion']>;
  }
  const timeout = parseIntFlag('timeout', str('timeout'), 1);
  if (timeout !== undefined) options.connectTimeout = timeout;
  const idle = parseIntFlag('idle-timeout', str('idle-timeout'), 100);
  if (idle !== undefined) options.idleTimeout = idle;
  return options;
}

/** --progress wins; otherwise --json and --quiet turn the display off. */
export function progressModeFrom(values: { progress?: string; json?: boolean; quiet?: boolean }): ProgressMode {
  const mode = values.progress ?? (values.json || values.quiet ? 'off' : 'auto');
  if (mode !== 'auto' && mode !== 'bar' && mode !== 'lines' && mode !== 'off') throw usageError(`--progress must be auto, bar, lines or off, got '${mode}'`);
  return mode;
}
