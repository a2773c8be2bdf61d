// Names for the generated API types (schema.d.ts, from the service's OpenAPI document):
// what an operation answers, takes in its body and in its query. The console's types are
// these, never copies, so a changed server schema fails vue-tsc where the console reads it.
import type { paths } from './schema';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type Json<R> = R extends { content: { 'application/json': infer T } } ? T : NotInDocument;
/** What a name resolves to when the document lacks it: any use of it fails vue-tsc (never would not). */
type NotInDocument = { readonly __notInTheOpenApiDocument: true };

/** The JSON answer of a successful call (200 or 201). */
export type ApiReply<P extends keyof paths, M extends Method = 'get'> = Operation<P, M> extends { responses: infer R }
  ? R extends { 200: infer OK }
    ? Json<OK>
    : R extends { 201: infer Created }
      ? Json<Created>
      : never
  : never;

/** The JSON body a call takes. */
export type ApiBody<P extends keyof paths, M extends Method = 'post'> = Operation<P, M> extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : never;

/** The query parameters a call takes. */
export type ApiQuery<P extends keyof paths, M extends Method = 'get'> = Operation<P, M> extends {
  parameters: { query?: infer Q };
}
  ? NonNullable<Q>
  : never;

/** One row of a list answer. */
export type Row<P extends keyof paths> = ApiReply<P> extends Array<infer T> ? T : NotInDocument;
