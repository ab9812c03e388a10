// Errors thrown by the JS layer carry the same `code` field as the ones thrown by wasm.

/** @returns {Error & { code: string }} */
export function codedError(code, message, cause) {
  const error = new Error(message, cause === undefined ? undefined : { cause });
  error.code = code;
  return error;
}
