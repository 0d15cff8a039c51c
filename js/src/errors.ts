// Every failure of the package is a WebAccelError with a code. The codes of
// the C++ runtime (src/core/status.h) come through unchanged; `cancelled` is
// also what an AbortSignal produces.
export type WebAccelErrorCode =
  | 'invalid_argument'
  | 'invalid_file'
  | 'unsupported'
  | 'out_of_memory'
  | 'io_error'
  | 'cancelled'
  | 'device_lost'
  | 'internal';

// Indexed by the C API's wa_status values.
export const STATUS_CODES: readonly WebAccelErrorCode[] = [
  'internal', // 0 is ok; never an error
  'invalid_argument',
  'invalid_file',
  'unsupported',
  'out_of_memory',
  'io_error',
  'cancelled',
  'device_lost',
  'internal',
];

export class WebAccelError extends Error {
  readonly code: WebAccelErrorCode;
  constructor(code: WebAccelErrorCode, message: string) {
    super(message);
    this.name = 'WebAccelError';
    this.code = code;
  }
  static fromStatus(status: number, message: string): WebAccelError {
    const code = STATUS_CODES[status] ?? 'internal';
    // The C side formats "code: message"; keep only the message part.
    const prefix = code + ': ';
    return new WebAccelError(code, message.startsWith(prefix) ? message.slice(prefix.length) : message || code);
  }
  // Errors that cross a worker boundary arrive as plain objects.
  static fromJSON(o: { code?: string; message?: string }): WebAccelError {
    const code = (STATUS_CODES as readonly string[]).includes(o.code ?? '') ? (o.code as WebAccelErrorCode) : 'internal';
    return new WebAccelError(code, o.message ?? 'unknown error');
  }
  toJSON(): { code: WebAccelErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function cancelled(what: string): WebAccelError {
  return new WebAccelError('cancelled', `${what} was aborted`);
}

// Any thrown value as a WebAccelError (bugs in our JS become `internal`).
export function asWebAccelError(e: unknown): WebAccelError {
  if (e instanceof WebAccelError) return e;
  if (e && typeof e === 'object' && (e as { name?: string }).name === 'AbortError') return cancelled('the operation');
  const msg = e instanceof Error ? e.message : String(e);
  return new WebAccelError('internal', msg);
}
