// Batch actions (审核 通过/驳回 many notices, 停用 / 改负责民警 / 打标签 many groups): the same
// single-item action run once per id, in order, each with its own checks and audit entry, so a
// batch can do nothing a user could not do one by one. One item's refusal does not stop the
// rest; the answer says, per item, whether it was done and if not why (the API's Chinese message).
import { Type } from '@sinclair/typebox';
import { DomainError } from './errors.js';
import { Nullable, ObjectIdString } from './schemas.js';

export const BatchIds = (most: number, description: string) =>
  Type.Array(ObjectIdString, {
    minItems: 1,
    maxItems: most,
    uniqueItems: true,
    description,
  });

export const BatchResults = Type.Object({
  succeeded: Type.Integer({ description: '完成的条数' }),
  failed: Type.Integer({ description: '未完成的条数' }),
  results: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Nullable(Type.String({ description: '对象名称（群名、通告标题），找不到时为空' })),
      ok: Type.Boolean(),
      message: Nullable(Type.String({ description: '未完成的原因' })),
    }),
  ),
});

export interface BatchItemResult {
  id: string;
  name: string | null;
  ok: boolean;
  message: string | null;
}

/**
 * Runs `each` for every id in turn. It returns the item's name when done; an DomainError (not
 * found, conflict, refused) becomes that item's message, anything else is rethrown.
 */
export async function runBatch(
  ids: readonly string[],
  each: (id: string) => Promise<string | null>,
): Promise<{ succeeded: number; failed: number; results: BatchItemResult[] }> {
  const results: BatchItemResult[] = [];
  for (const id of ids) {
    try {
      results.push({ id, name: await each(id), ok: true, message: null });
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      // The id is the caller's own; a not-found message naming it again says nothing more.
      const message = error.code === 'not_found' ? '不存在或不在您的管辖范围内' : error.message;
      results.push({ id, name: null, ok: false, message });
    }
  }
  const succeeded = results.filter((r) => r.ok).length;
  return { succeeded, failed: results.length - succeeded, results };
}
