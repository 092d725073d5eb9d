// The package entry point: sockets, servers, errors, stats types and pluggable congestion control.

export { connect, UdtSocket, type AddressInfo } from './socket.js';
export { createServer, UdtServer, type ListenOptions, type ServerOptions } from './server.js';
export type { ConnectOptions, MessageOptions, SocketOptions, EngineChoice } from './options.js';
export type { UdtStats } from './stats.js';
export * from './errors.js';
export type { ConnectionOptions } from '../core/config.js';
export type { CcState, CongestionController, CongestionControllerFactory } from '../core/congestion/controller.js';
export { UdtNativeController } from '../core/congestion/udt-native.js';
export { FixedRateController } from '../core/congestion/fixed-rate.js';
export { nativeUnavailableReason } from '../engine/load.js';
