// Typed domain errors. Domain code throws these; src/http/errors.ts maps them to HTTP.
export class DomainError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidInput extends DomainError {
  constructor(message: string, field?: string) {
    super(message, 'invalid_input', field);
  }
}

export class Unauthorized extends DomainError {
  constructor(message = '请先登录') {
    super(message, 'unauthorized');
  }
}

export class Forbidden extends DomainError {
  constructor(message = '无权执行此操作') {
    super(message, 'forbidden');
  }
}

export class NotFound extends DomainError {
  constructor(what: string) {
    super(`${what} 不存在或不在您的管辖范围内`, 'not_found');
  }
}

export class Conflict extends DomainError {
  constructor(message: string, field?: string) {
    super(message, 'conflict', field);
  }
}

/** The thing existed and was withdrawn on purpose (an officer's task of a retracted notice): 410. */
export class Gone extends DomainError {
  constructor(message: string) {
    super(message, 'gone');
  }
}

export class PayloadTooLarge extends DomainError {
  constructor(message: string, field?: string) {
    super(message, 'payload_too_large', field);
  }
}

export class TooManyRequests extends DomainError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, 'too_many_requests');
  }
}

/** MongoDB's duplicate-key error (same code on FerretDB). */
export function isDuplicateKey(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 11000;
}
