// Public surface of the seeded virtual-time network simulator.

export * from './link.js';
export * from './network.js';
export * from './trace.js';
export * from './udt-host.js';
export * from './scenario.js';
