// Exit codes shared by udt-send, udt-recv and udt-perf, and the mapping from errors to them.

export const ExitCode = {
  OK: 0,
  /** Anything not covered below (a bug, an unexpected system error). */
  FAILURE: 1,
  /** Bad command line. */
  USAGE: 2,
  /** A local file problem: input missing or unreadable, output directory or file not writable. */
  LOCAL_FILE: 3,
  /** No answer to the handshake (host unreachable, nothing listening on that port). */
  CONNECT_TIMEOUT: 4,
  /** The peer rejected the connection at the UDT level. */
  REJECTED: 5,
  /** The connection broke during the transfer (peer dead, closed early, protocol error). */
  CONNECTION_LOST: 6,
  /** The receiver refused the transfer (unsafe file name, wrong protocol, busy). */
  REFUSED: 7,
  /** The receiver could not store the data (disk full, I/O error). */
  REMOTE_STORAGE: 8,
  /** The SHA-256 of the data received differs from the sender's. */
  CHECKSUM_MISMATCH: 9,
  /** Interrupted by SIGINT / SIGTERM. */
  INTERRUPTED: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure the tools report as one line plus an exit code; `code` is stable for --json output. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

const UDT_CODES: Record<string, ExitCodeValue> = {
  ERR_UDT_CONNECT_TIMEOUT: ExitCode.CONNECT_TIMEOUT,
  ERR_UDT_REJECTED: ExitCode.REJECTED,
  ERR_UDT_SECURITY: ExitCode.REJECTED,
  ERR_UDT_PEER_DEAD: ExitCode.CONNECTION_LOST,
  ERR_UDT_PEER_CLOSED: ExitCode.CONNECTION_LOST,
  ERR_UDT_PEER_ERROR: ExitCode.CONNECTION_LOST,
  ERR_UDT_PROTOCOL: ExitCode.CONNECTION_LOST,
  ERR_UDT_SOCKET_CLOSED: ExitCode.CONNECTION_LOST,
  ERR_UDT_LINGER_TIMEOUT: ExitCode.CONNECTION_LOST,
  ERR_UDT_INVALID_ARG: ExitCode.USAGE,
  ERR_UDT_BIND: ExitCode.FAILURE,
};

const FILE_CODES = new Set(['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EROFS', 'EEXIST']);

function errCode(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/** A human sentence for a UDT connection failure, naming the peer when known. */
export function describeConnectionError(err: unknown, peer?: string): string {
  const code = errCode(err);
  const to = peer ? ` ${peer}` : '';
  switch (code) {
    case 'ERR_UDT_CONNECT_TIMEOUT':
      return `no answer from${to || ' the peer'} (is a receiver listening there?)`;
    case 'ERR_UDT_REJECTED':
      return `connection to${to || ' the peer'} was rejected (not a UDT stream listener, or it accepts no more connections)`;
    case 'ERR_UDT_PEER_DEAD':
      return `peer${to} stopped responding`;
    case 'ERR_UDT_PEER_CLOSED':
    case 'ERR_UDT_SOCKET_CLOSED':
      return `connection to${to || ' the peer'} closed before the transfer finished`;
    default:
      return (err as Error)?.message ?? String(err);
  }
}

/** Turns any error into a CliError (keeping CliErrors as they are). */
export function toCliError(err: unknown, peer?: string): CliError {
  if (err instanceof CliError) return err;
  const code = errCode(err);
  if (code && UDT_CODES[code] !== undefined) {
    return new CliError(`${describeConnectionError(err, peer)} [${code}]`, UDT_CODES[code], code, { cause: err });
  }
  if (code && FILE_CODES.has(code)) {
    return new CliError((err as Error).message, ExitCode.LOCAL_FILE, code, { cause: err });
  }
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    return new CliError((err as Error).message, ExitCode.USAGE, 'USAGE', { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new CliError(message, ExitCode.FAILURE, code ?? 'FAILURE', { cause: err });
}
