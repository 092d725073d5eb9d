// Connection options: defaults, validation (typed errors), and the resolved numbers the core runs on.

import { FixedRateController } from './congestion/fixed-rate.js';
import type { CongestionController, CongestionControllerFactory } from './congestion/controller.js';
import { ModelBasedController } from './congestion/model-based.js';
import { UdtNativeController } from './congestion/udt-native.js';
import { InvalidArgumentError } from './errors.js';
import { DATA_OVERHEAD, IP_UDP_OVERHEAD } from './packet.js';
import { createRng, type Rng } from './rng.js';

export type CongestionOption = 'udt' | 'bbr' | 'fixed' | CongestionController | CongestionControllerFactory;

/** User-facing options. Sizes in bytes, times in milliseconds, rates in bytes per second. */
export interface ConnectionOptions {
  /** Max packet size including IP and UDP headers (UDT_MSS). Default 1500; 76..65535. */
  mss?: number;
  /** 'stream' (byte stream) or 'message' (datagrams with boundaries). Default 'stream'. */
  mode?: 'stream' | 'message';
  /** Max flow window in packets (UDT_FC). Default 25600; min 32. */
  flowWindow?: number;
  /** Send buffer limit in bytes (UDT_SNDBUF). Default 8192 packets' worth (about 12 MB at MSS 1500). */
  sendBufferSize?: number;
  /** Receive buffer limit in bytes (UDT_RCVBUF). Default 8192 packets' worth; capped at the flow window. */
  receiveBufferSize?: number;
  /**
   * 'udt' (native DAIMD, the default, as libudt), 'bbr' (model-based and loss-tolerant, for long lossy paths),
   * 'fixed' (needs maxBandwidth) or a controller / factory.
   */
  congestion?: CongestionOption;
  /** Per-connection cap on the send rate, bytes/s (UDT_MAXBW). Default none. */
  maxBandwidth?: number;
  /** Silence after which the peer is declared dead, ms. Default 10,000. */
  idleTimeout?: number;
  /** Keep-alive interval when nothing else is sent, ms. Default 1,000. */
  keepAliveInterval?: number;
  /** Handshake time-out, ms. Default 3,000 (30,000 for rendezvous, as libudt). */
  connectTimeout?: number;
  /** How long a graceful close may wait for unacknowledged data, ms. Default 180,000 (libudt's UDT_LINGER). */
  linger?: number;
  /** Re-send NAKs for ranges still missing (libudt sends NAKs only once). Default true. */
  periodicNak?: boolean;
  /** Seed for the core's random choices (ISN, socket ids, CC). Default: random. */
  seed?: number;
}

export interface CoreConfig {
  mss: number;
  payloadSize: number;
  sockType: 1 | 2;
  flowWindow: number;
  sndBufPackets: number;
  rcvBufPackets: number;
  makeController: CongestionControllerFactory;
  maxBandwidth: number;
  idleTimeoutUs: number;
  keepAliveUs: number;
  connectTimeoutUs: number;
  lingerUs: number;
  periodicNak: boolean;
  rng: Rng;
}

const DEFAULT_BUFFER_PACKETS = 8192;

function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
  return v;
}

function checkNumber(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new InvalidArgumentError(`${name} must be a finite number >= ${min}, got ${String(v)}`);
  }
  return v;
}

function controllerFactory(opt: CongestionOption | undefined, maxBandwidth: number): CongestionControllerFactory {
  if (opt === undefined || opt === 'udt') return () => new UdtNativeController();
  if (opt === 'bbr') return () => new ModelBasedController();
  if (opt === 'fixed') {
    if (!(maxBandwidth > 0)) throw new InvalidArgumentError("congestion 'fixed' needs maxBandwidth (bytes/s)");
    return () => new FixedRateController({ bitsPerSecond: maxBandwidth * 8 });
  }
  if (typeof opt === 'function') return opt as CongestionControllerFactory;
  if (typeof opt === 'object' && opt !== null && typeof opt.onAck === 'function') {
    let used = false;
    return () => {
      if (used) throw new InvalidArgumentError('a congestion controller instance can serve one connection; pass a factory');
      used = true;
      return opt;
    };
  }
  throw new InvalidArgumentError(`congestion must be 'udt', 'bbr', 'fixed', a controller or a factory, got ${String(opt)}`);
}

export function resolveConfig(options: ConnectionOptions = {}, rendezvous = false): CoreConfig {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object');
  const mss = checkInt('mss', options.mss ?? 1500, 76, 65535);
  const mode = options.mode ?? 'stream';
  if (mode !== 'stream' && mode !== 'message') throw new InvalidArgumentError(`mode must be 'stream' or 'message', got ${String(mode)}`);
  const flowWindow = checkInt('flowWindow', options.flowWindow ?? 25600, 32, 0x3fffffff);
  const unit = mss - IP_UDP_OVERHEAD;
  const sndBytes = options.sendBufferSize ?? DEFAULT_BUFFER_PACKETS * unit;
  const rcvBytes = options.receiveBufferSize ?? DEFAULT_BUFFER_PACKETS * unit;
  checkInt('sendBufferSize', sndBytes, unit, 2 ** 40);
  checkInt('receiveBufferSize', rcvBytes, unit, 2 ** 40);
  const sndBufPackets = Math.max(32, Math.ceil(sndBytes / unit));
  const rcvBufPackets = Math.min(flowWindow, Math.max(32, Math.ceil(rcvBytes / unit)));
  const maxBandwidth = options.maxBandwidth === undefined ? -1 : checkNumber('maxBandwidth', options.maxBandwidth, 1);
  const ms = (name: string, v: number | undefined, dflt: number, min: number) => checkNumber(name, v ?? dflt, min) * 1000;
  return {
    mss,
    payloadSize: mss - DATA_OVERHEAD,
    sockType: mode === 'stream' ? 1 : 2,
    flowWindow,
    sndBufPackets,
    rcvBufPackets,
    makeController: controllerFactory(options.congestion, maxBandwidth),
    maxBandwidth,
    idleTimeoutUs: ms('idleTimeout', options.idleTimeout, 10_000, 100),
    keepAliveUs: ms('keepAliveInterval', options.keepAliveInterval, 1_000, 10),
    connectTimeoutUs: ms('connectTimeout', options.connectTimeout, rendezvous ? 30_000 : 3_000, 1),
    lingerUs: ms('linger', options.linger, 180_000, 0),
    periodicNak: options.periodicNak ?? true,
    rng: createRng(options.seed ?? Math.floor(Math.random() * 2 ** 32)),
  };
}
