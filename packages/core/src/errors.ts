/**
 * One base class for every error kvwalk throws on purpose, and one subclass per kind, so callers
 * can branch with `instanceof` or on `code`. Messages name the parameter (or file, tensor, field),
 * the expected value and the received one.
 */
export class KvwalkError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A caller passed a value outside what the function accepts. */
export class InvalidArgumentError extends KvwalkError {
  readonly parameter: string;
  constructor(parameter: string, expected: string, received: unknown) {
    super("KVWALK_INVALID_ARGUMENT", `Expected ${expected} for ${parameter} but received ${describe(received)}`);
    this.parameter = parameter;
  }
}

/** A file on disk (checkpoint, dataset, tokenizer) is missing or malformed. */
export class FileFormatError extends KvwalkError {
  readonly file: string;
  constructor(file: string, detail: string, options?: { cause?: unknown }) {
    super("KVWALK_FILE_FORMAT", `${file}: ${detail}`, options);
    this.file = file;
  }
}

/** Data or a model that a study needs could not be found in the configured location. */
export class DataNotFoundError extends KvwalkError {
  constructor(what: string, looked: string[]) {
    super(
      "KVWALK_DATA_NOT_FOUND",
      `${what} not found; looked in: ${looked.join(", ")}. Set KVWALK_SHARED to the folder that holds data/ and models/.`,
    );
  }
}

/** A CUDA call failed; carries the operation (kernel or API) and CUDA's own message. */
export class CudaError extends KvwalkError {
  readonly operation: string;
  constructor(operation: string, cudaMessage: string) {
    super("KVWALK_CUDA", `CUDA error in ${operation}: ${cudaMessage}`);
    this.operation = operation;
  }
}

/** A GPU-only feature was called where no usable CUDA device is present. */
export class BackendUnavailableError extends KvwalkError {
  constructor(feature: string, reason: string) {
    super("KVWALK_BACKEND_UNAVAILABLE", `${feature} needs a CUDA device: ${reason}`);
  }
}

/** Short printable form of a received value for error messages. */
export function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name} of length ${(value as unknown as { length: number }).length}`;
  if (typeof value === "function") return "a function";
  return `an object (${Object.prototype.toString.call(value)})`;
}
