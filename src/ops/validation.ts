import { BadRequestException } from '@nestjs/common';
import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';

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
): T {
  const problems = collectDtoErrors(cls, body, prefix);
  if (problems.errors.length > 0)
    throw new BadRequestException(problems.errors);
  return problems.value!;
}

export function collectDtoErrors<T extends object>(
  cls: ClassConstructor<T>,
  body: unknown,
  prefix = '',
): { value?: T; errors: string[] } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { errors: [`${prefix || 'body'} must be a JSON object`] };
  }
  const value = plainToInstance(cls, body);
  const errors = validateSync(value, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
  });
  return { value, errors: flatten(errors, prefix) };
}
