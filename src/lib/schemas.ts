// Shared TypeBox schemas: one definition for validation, TypeScript types and OpenAPI.
import { type TSchema, Type } from '@sinclair/typebox';

export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String(),
    message: Type.String(),
    field: Type.Optional(Type.String()),
  },
  { $id: 'ErrorBody' },
);

export const ObjectIdString = Type.String({ pattern: '^[0-9a-fA-F]{24}$', description: '24 位十六进制 ID' });

export const IdParams = Type.Object({ id: ObjectIdString }, { additionalProperties: false });

export const NonBlank = (maxLength: number, description?: string) =>
  Type.String({ minLength: 1, maxLength, pattern: '\\S', description });

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const OkBody = Type.Object({ ok: Type.Literal(true) });

/** A Date in handlers, an ISO 8601 string on the wire (response bodies). */
export const DateTime = Type.Unsafe<Date>({ type: 'string', format: 'date-time' });
