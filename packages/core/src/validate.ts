import { InvalidArgumentError } from "./errors.js";

/** Asserts an integer in [min, max] and returns it. */
export function expectInt(name: string, value: unknown, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(name, rangeText("an integer", min, max), value);
  }
  return value;
}

/** Asserts a finite number in [min, max] and returns it. */
export function expectNumber(name: string, value: unknown, min = -Infinity, max = Infinity): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidArgumentError(name, rangeText("a finite number", min, max), value);
  }
  return value;
}

/** Asserts one of the listed strings. */
export function expectOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(name, `one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`, value);
  }
  return value as T;
}

/** Asserts a typed array (or array) of exactly `length` elements. */
export function expectLength<T extends { length: number }>(name: string, value: T, length: number): T {
  if (value == null || value.length !== length) {
    throw new InvalidArgumentError(name, `length ${length}`, value == null ? value : `length ${value.length}`);
  }
  return value;
}

function rangeText(kind: string, min: number, max: number): string {
  const lo = min > Number.MIN_SAFE_INTEGER && min > -Infinity;
  const hi = max < Number.MAX_SAFE_INTEGER && max < Infinity;
  if (lo && hi) return `${kind} in [${min}, ${max}]`;
  if (lo) return `${kind} >= ${min}`;
  if (hi) return `${kind} <= ${max}`;
  return kind;
}
