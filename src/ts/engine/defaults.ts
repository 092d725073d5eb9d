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

/** `UDT_GRO=0` turns UDP GRO off in the native engine. */
export function groFromEnv(): boolean | undefined {
  const v = process.env.UDT_GRO;
  return v === undefined || v === '' ? undefined : v !== '0' && v !== 'false';
}
