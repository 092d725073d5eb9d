// Engine errors: plain Error objects with a stable `code` (ERR_UDT_ENGINE_*) that the API layer wraps.

export type EngineError = Error & { code: string };

export function engineError(code: string, message: string, cause?: unknown): EngineError {
  const e = new Error(message, cause === undefined ? undefined : { cause }) as EngineError;
  e.code = code;
  return e;
}
