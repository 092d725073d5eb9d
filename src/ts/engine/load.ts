// Picks the UDP engine: the native addon when it loads (placeholder: always node:dgram until the addon lands).

import type { Engine } from './engine.js';
import { DgramEngine } from './dgram-engine.js';

let reason: string | null = 'the native addon is not built yet';

export function createEngine(prefer: 'auto' | 'native' | 'dgram' = 'auto'): Engine {
  void prefer;
  return new DgramEngine();
}

/** Why the native engine is not in use (null when it is available). */
export function nativeUnavailableReason(): string | null {
  return reason;
}
