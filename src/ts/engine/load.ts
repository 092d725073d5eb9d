// Picks the UDP engine: the native addon when it loads, else node:dgram; `UDT_ENGINE=dgram|native` forces one.

import { DgramEngine } from './dgram-engine.js';
import type { Engine } from './engine.js';
import { engineError } from './errors.js';
import { type BindingLoad, loadNativeBinding } from './native-binding.js';
import { NativeEngine, type NativeEngineTuning } from './native-engine.js';

export type EnginePreference = 'auto' | 'native' | 'dgram';

let loaded: BindingLoad | null = null;

function nativeBinding(): BindingLoad {
  return (loaded ??= loadNativeBinding());
}

function forcedByEnv(): 'native' | 'dgram' | null {
  const v = process.env.UDT_ENGINE;
  return v === 'native' || v === 'dgram' ? v : null;
}

/**
 * A new, unopened engine. 'auto' uses the native addon when it loads and node:dgram otherwise; 'native' throws
 * (code ERR_UDT_ENGINE_NATIVE_UNAVAILABLE, with the reason) when the addon is missing. `UDT_ENGINE` overrides `prefer`.
 */
export function createEngine(prefer: EnginePreference = 'auto', tuning?: NativeEngineTuning): Engine {
  const choice = forcedByEnv() ?? prefer;
  if (choice === 'dgram') return new DgramEngine();
  const n = nativeBinding();
  if (n.binding) return new NativeEngine(n.binding, tuning);
  if (choice === 'native') throw engineError('ERR_UDT_ENGINE_NATIVE_UNAVAILABLE', `native engine unavailable: ${n.reason}`);
  return new DgramEngine();
}

/** Why the native engine is not available (null when it is). */
export function nativeUnavailableReason(): string | null {
  return nativeBinding().reason;
}
