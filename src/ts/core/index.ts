// Public surface of the sans-I/O protocol core.

export * from './config.js';
export * from './connection.js';
export * from './errors.js';
export * from './handshake.js';
export * from './listener.js';
export * from './loss-list.js';
export * from './packet.js';
export * from './recv-buffer.js';
export * from './rng.js';
export * from './rtt.js';
export * from './seq.js';
export * from './slot-pool.js';
export * from './stats.js';
export * from './transmit.js';
export * from './estimators.js';
export type { CcState, CongestionController, CongestionControllerFactory } from './congestion/controller.js';
export { UdtNativeController } from './congestion/udt-native.js';
export { FixedRateController, type FixedRateOptions } from './congestion/fixed-rate.js';
