// The public error classes (one per failure, each with a stable `code`), re-exported from the core.

export {
  AbortError,
  BindError,
  ConnectionRejectedError,
  ConnectTimeoutError,
  HandshakeSecurityError,
  InvalidArgumentError,
  InvalidOperationError,
  LingerTimeoutError,
  MessageTooLargeError,
  NotConnectedError,
  PeerClosedError,
  PeerDeadError,
  PeerError,
  ProtocolError,
  SocketClosedError,
  UdtError,
  type CloseReason,
} from '../core/errors.js';
