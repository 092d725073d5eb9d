// Monotonic microsecond clock shared by endpoints and engines (CLOCK_MONOTONIC, same origin as the addon's).

import { performance } from 'node:perf_hooks';

const originUs = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;

/** Microseconds on CLOCK_MONOTONIC (what `clock_gettime(CLOCK_MONOTONIC)` gives in C, divided by 1000). */
export function nowUs(): number {
  return originUs + performance.now() * 1000;
}
