import { BadRequestException } from '@nestjs/common';
import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';

/**
 * How deep any value of a request body may nest (an object or array is one level; an
 * alert's `customDetails` object itself is level 1). Checked before anything recurses
 * into the body, so a body nested thousands deep is a 400, never a stack overflow.
 */
export const MAX_NESTING_DEPTH = 20;
/** A rejected request lists at most this many problems, then says how many more there were. */
export const MAX_ERROR_MESSAGES = 20;

// A lone surrogate cannot be encoded as UTF-8 (the database stores U+FFFD instead, so the
// row no longer matches the key it was written under); PostgreSQL refuses U+0000 in text.
// With the `u` flag a well-formed pair is one code point and never matches \p{Cs}.
const MALFORMED = /[\0\p{Cs}]/u;

export interface ShapeRules {
  /** property → most items its array may hold, checked before any item is looked at */
  arrays?: Record<string, number>;
  /**
   * Free-form JSON properties handed to the DTO as they are: class-transformer breaks on
   * keys such as `constructor` (a 500 for a label of that name), and has nothing to add.
   */
  opaque?: readonly string[];
}

/**
 * What every request body goes through before a DTO sees it: array lengths first, then
 * one bounded walk that refuses nesting deeper than {@link MAX_NESTING_DEPTH} and any
 * string (or key) holding U+0000 or a lone surrogate. Cheap, and it keeps the
 * recursive work after it (class-transformer, JSON.stringify) on sane input.
 */
export function shapeErrors(
  body: Record<string, unknown>,
  prefix: string,
  rules: ShapeRules = {},
): string[] {
  const errors: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    const path = join(prefix, key);
    const max = rules.arrays?.[key];
    if (max !== undefined && Array.isArray(value) && value.length > max) {
      errors.push(
        `${path} must contain no more than ${max} elements, got ${value.length}`,
      );
      continue;
    }
    if (MALFORMED.test(key)) errors.push(`${path}: ${MALFORMED_KEY}`);
    walk(value, path, 1, errors);
  }
  return errors;
}

const MALFORMED_STRING =
  'must be well-formed Unicode without U+0000 (no lone surrogates, no NUL)';
const MALFORMED_KEY =
  'property names must be well-formed Unicode without U+0000 (no lone surrogates, no NUL)';

const WALK_ERRORS_MAX = 1000;

function walk(
  value: unknown,
  path: string,
  depth: number,
  errors: string[],
): void {
  // a body of 100 000 bad strings is told so in 20 lines; walking on would only cost memory
  if (errors.length >= WALK_ERRORS_MAX) return;
  if (typeof value === 'string') {
    if (MALFORMED.test(value)) errors.push(`${path} ${MALFORMED_STRING}`);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (depth > MAX_NESTING_DEPTH) {
    errors.push(`${path} is nested deeper than ${MAX_NESTING_DEPTH} levels`);
    return;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++)
      walk(value[i], `${path}[${i}]`, depth + 1, errors);
    return;
  }
  for (const [key, v] of Object.entries(value)) {
    if (MALFORMED.test(key)) errors.push(`${path}: ${MALFORMED_KEY}`);
    walk(v, `${path}.${key}`, depth + 1, errors);
  }
}

function join(prefix: string, key: string): string {
  return prefix ? `${prefix}.${key}` : key;
}

function flatten(errors: ValidationError[], prefix: string): string[] {
  return errors.flatMap((e) => {
    const path = prefix ? `${prefix}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((msg) =>
      // class-validator names the bare property; name the full path instead
      msg.startsWith(`${e.property} `)
        ? `${path}${msg.slice(e.property.length)}`
        : `${path}: ${msg}`,
    );
    return [...own, ...flatten(e.children ?? [], path)];
  });
}

/**
 * Validates a plain body against a DTO class: unknown properties are errors, and every
 * message names the field it is about (with `[i]` for batch items).
 */
export function validateDto<T extends object>(
  cls: ClassConstructor<T>,
  body: unknown,
  prefix = '',
  rules?: ShapeRules,
): T {
  const problems = collectDtoErrors(cls, body, prefix, rules);
  if (problems.errors.length > 0)
    throw new BadRequestException(capErrors(problems.errors));
  return problems.value!;
}

export function collectDtoErrors<T extends object>(
  cls: ClassConstructor<T>,
  body: unknown,
  prefix = '',
  rules?: ShapeRules,
): { value?: T; errors: string[] } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { errors: [`${prefix || 'body'} must be a JSON object`] };
  }
  const plain = body as Record<string, unknown>;
  const shape = shapeErrors(plain, prefix, rules);
  if (shape.length > 0) return { errors: shape };
  let value: T;
  if (rules?.opaque?.some((key) => Object.hasOwn(plain, key))) {
    const rest = { ...plain };
    for (const key of rules.opaque) delete rest[key];
    value = plainToInstance(cls, rest);
    for (const key of rules.opaque)
      if (Object.hasOwn(plain, key))
        (value as Record<string, unknown>)[key] = plain[key];
  } else value = plainToInstance(cls, body);
  const errors = validateSync(value, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
  });
  return { value, errors: flatten(errors, prefix) };
}

/** The first {@link MAX_ERROR_MESSAGES} problems, and how many more: a 1 MiB body must not answer megabytes. */
export function capErrors(errors: string[]): string[] {
  if (errors.length <= MAX_ERROR_MESSAGES) return errors;
  return [
    ...errors.slice(0, MAX_ERROR_MESSAGES),
    `… and ${errors.length - MAX_ERROR_MESSAGES} more`,
  ];
}
