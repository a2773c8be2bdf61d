// Forms and the API: one request per click (a second click while the first is in flight
// does nothing), and the API's refusal shown on the field it names. What was typed stays.
import { ElMessage } from 'element-plus';
import { reactive, ref } from 'vue';
import { ApiError } from '../api/client';

export function useApiForm() {
  const busy = ref(false);
  /** API messages by field name ("title", "wanted.contactPhone", …). */
  const errors = reactive<Record<string, string>>({});
  /** A message that names no field of this form. */
  const formError = ref('');

  function clear() {
    for (const key of Object.keys(errors)) delete errors[key];
    formError.value = '';
  }

  /** Runs `action` once at a time; returns its result, or undefined when refused. */
  async function submit<T>(action: () => Promise<T>, fields: readonly string[] = []): Promise<T | undefined> {
    if (busy.value) return undefined;
    busy.value = true;
    clear();
    try {
      return await action();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 401) return undefined; // the router takes over
      const field = error.field ? matchField(error.field, fields) : null;
      // Under its field the message need not name the field again (字段 "body.newPassword" …).
      if (field) errors[field] = fieldMessage(error.message);
      else {
        formError.value = error.message;
        ElMessage.error(error.message);
      }
      return undefined;
    } finally {
      busy.value = false;
    }
  }

  return { busy, errors, formError, submit, clear };
}

/** The form's own name for an API field: exact, else the longest form field it starts with. */
function matchField(apiField: string, fields: readonly string[]): string | null {
  const bare = apiField.replace(/^body\./, '');
  if (fields.includes(bare)) return bare;
  const prefix = fields
    .filter((f) => bare.startsWith(`${f}.`) || bare.startsWith(`${f}[`))
    .sort((a, b) => b.length - a.length);
  return prefix[0] ?? null;
}

/** 字段 "body.newPassword" 至少 10 个字符 → 至少 10 个字符: shown under the field, the name is known. */
export function fieldMessage(message: string): string {
  const stripped = message.replace(/^(缺少必填|不支持的)?字段\s*"[^"]*"\s*(的)?/, (_m, kind: string | undefined) =>
    kind === '缺少必填' ? '必填' : kind === '不支持的' ? '不支持此项' : '',
  );
  return stripped || message;
}
