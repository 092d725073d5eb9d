// Error classes, one per failure, each with a stable `code` (shared by the core and the public API).

export class UdtError extends Error {
  readonly code: string;
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A bad option or argument; thrown synchronously. */
export class InvalidArgumentError extends UdtError {
  constructor(message: string) {
    super(message, 'ERR_UDT_INVALID_ARG');
  }
}

export class ConnectTimeoutError extends UdtError {
  constructor(message = 'connection attempt timed out') {
    super(message, 'ERR_UDT_CONNECT_TIMEOUT');
  }
}

/** The listener answered with a rejection (version or socket type mismatch, backlog full). */
export class ConnectionRejectedError extends UdtError {
  constructor(message = 'connection rejected by peer') {
    super(message, 'ERR_UDT_REJECTED');
  }
}

/** The handshake response did not match our request (libudt's ESECFAIL). */
export class HandshakeSecurityError extends UdtError {
  constructor(message = 'handshake response does not match the request') {
    super(message, 'ERR_UDT_SECURITY');
  }
}

/** Nothing heard from the peer for the idle timeout. */
export class PeerDeadError extends UdtError {
  constructor(message = 'peer stopped responding') {
    super(message, 'ERR_UDT_PEER_DEAD');
  }
}

/** The peer shut the connection down while we still had data it had not acknowledged. */
export class PeerClosedError extends UdtError {
  constructor(message = 'peer closed the connection before all data was delivered') {
    super(message, 'ERR_UDT_PEER_CLOSED');
  }
}

/** The peer signalled an error (UDT error packet, e.g. its file write failed). */
export class PeerError extends UdtError {
  readonly peerCode: number;
  constructor(peerCode: number) {
    super(`peer reported error ${peerCode}`, 'ERR_UDT_PEER_ERROR');
    this.peerCode = peerCode;
  }
}

/** Graceful close could not deliver all data within the linger time. */
export class LingerTimeoutError extends UdtError {
  constructor(message = 'linger time ran out before all data was acknowledged') {
    super(message, 'ERR_UDT_LINGER_TIMEOUT');
  }
}

export class MessageTooLargeError extends UdtError {
  constructor(size: number, max: number) {
    super(`message of ${size} bytes exceeds the send buffer (${max} bytes)`, 'ERR_UDT_MESSAGE_TOO_LARGE');
  }
}

export class SocketClosedError extends UdtError {
  constructor(message = 'socket is closed') {
    super(message, 'ERR_UDT_SOCKET_CLOSED');
  }
}

export class NotConnectedError extends UdtError {
  constructor(message = 'socket is not connected') {
    super(message, 'ERR_UDT_NOT_CONNECTED');
  }
}

/** The wrong call for the socket's mode (e.g. sendMessage on a stream socket). */
export class InvalidOperationError extends UdtError {
  constructor(message: string) {
    super(message, 'ERR_UDT_INVALID_OP');
  }
}

export class AbortError extends UdtError {
  constructor(message = 'the operation was aborted', options?: { cause?: unknown }) {
    super(message, 'ERR_UDT_ABORTED', options);
    this.name = 'AbortError';
  }
}

/** The UDP socket could not be opened or bound. */
export class BindError extends UdtError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_UDT_BIND', options);
  }
}

/** The connection broke because the peer violated the protocol. */
export class ProtocolError extends UdtError {
  constructor(message: string) {
    super(message, 'ERR_UDT_PROTOCOL');
  }
}

/** Why a connection ended. `local-close` and `peer-shutdown` are orderly; the rest are failures. */
export type CloseReason =
  | 'local-close'
  | 'peer-shutdown'
  | 'destroyed'
  | 'peer-dead'
  | 'connect-timeout'
  | 'rejected'
  | 'security'
  | 'linger-timeout'
  | 'protocol-error'
  | 'peer-error';

/** The error a failure reason surfaces as; null for orderly ends. */
export function errorForReason(reason: CloseReason, detail?: string): UdtError | null {
  switch (reason) {
    case 'local-close':
    case 'peer-shutdown':
    case 'destroyed':
      return null;
    case 'peer-dead':
      return new PeerDeadError(detail);
    case 'connect-timeout':
      return new ConnectTimeoutError(detail);
    case 'rejected':
      return new ConnectionRejectedError(detail);
    case 'security':
      return new HandshakeSecurityError(detail);
    case 'linger-timeout':
      return new LingerTimeoutError(detail);
    case 'protocol-error':
      return new ProtocolError(detail ?? 'protocol violation');
    case 'peer-error':
      return new PeerError(Number(detail ?? 0));
  }
}
