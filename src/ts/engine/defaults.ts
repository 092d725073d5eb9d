// Defaults and environment overrides shared by both engines.

/** Kernel socket buffer size requested when the caller names none (the kernel may grant less; both engines report it). */
export const DEFAULT_SOCKET_BUFFER = 4 * 1024 * 1024;

/** A datagram may leave this many µs before its sendAt (clock granularity); never earlier. */
export const EARLY_SLACK_US = 2;

/** How long close() keeps sending what is already queued before dropping the rest. */
export const CLOSE_DRAIN_MS = 250;

export type SendPathName = 'gso' | 'sendmmsg' | 'sendmsg';

/** `UDT_SEND_PATH=gso|sendmmsg|sendmsg` caps the native engine's send path (for tests and comparisons). */
export function sendPathFromEnv(): SendPathName | undefined {
  const v = process.env.UDT_SEND_PATH;
  return v === 'gso' || v === 'sendmmsg' || v === 'sendmsg' ? v : undefined;
}

function envFlag(name: string): boolean | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v !== '0' && v !== 'false';
}

/** `UDT_GRO=0` turns UDP GRO off in the native engine (on by default). */
export function groFromEnv(): boolean | undefined {
  return envFlag('UDT_GRO');
}

/** `UDT_GSO_LOOPBACK=0` stops the native engine using GSO towards loopback peers (on by default). */
export function gsoLoopbackFromEnv(): boolean | undefined {
  return envFlag('UDT_GSO_LOOPBACK');
}

function envInt(name: string): number | undefined {
  const v = process.env[name];
  const n = v === undefined || v === '' ? NaN : Number(v);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** Native engine knobs for experiments: `UDT_PACER_SPIN_US`, `UDT_PACER_BURST_US`, `UDT_PACER_BURST_CAP_US`, `UDT_INLINE_MAX`, `UDT_TX_BLOCKS`. */
export function pacerTuningFromEnv(): { spinUs?: number; burstUs?: number; burstCapUs?: number; inlineMax?: number; txBlocks?: number } {
  return {
    spinUs: envInt('UDT_PACER_SPIN_US'),
    burstUs: envInt('UDT_PACER_BURST_US'),
    burstCapUs: envInt('UDT_PACER_BURST_CAP_US'),
    inlineMax: envInt('UDT_INLINE_MAX'),
    txBlocks: envInt('UDT_TX_BLOCKS'),
  };
}
