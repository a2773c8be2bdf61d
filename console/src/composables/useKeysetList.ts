// Every list screen pages the same way: on the server, by keyset cursor (the last row's id),
// never by loading a few hundred rows and slicing them in the page — so row 501 is as
// reachable as row 1 and nothing vanishes silently. The screen gives the path and its
// filters; this keeps the page number, the cursors of the pages seen, the page size, the
// sort (newest / oldest first) and whether a next page exists (it asks for one row more).
import { computed, ref, shallowRef } from 'vue';
import { ApiError, get } from '../api/client';

type QueryValue = string | number | boolean | undefined | null;

export interface KeysetListOptions {
  /** The API path, e.g. '/api/notices'. */
  path: string;
  /** The filters as API query parameters, read at every load. */
  query: () => Record<string, QueryValue>;
  /** The cursor parameter when newest first: 'before' (default) or 'after' for lists that page forward. */
  cursor?: 'before' | 'after';
  /** Whether the API sorts (sort=newest|oldest); lists sorted by name leave it off. */
  sortable?: boolean;
  pageSize?: number;
}

export function useKeysetList<T extends { id: string }>(options: KeysetListOptions) {
  const rows = shallowRef<T[]>([]);
  const page = ref(1);
  const pageSize = ref(options.pageSize ?? 10);
  const sort = ref<'newest' | 'oldest'>('newest');
  const hasNext = ref(false);
  const loading = ref(false);
  const error = ref('');
  /** cursors[i] loads page i + 1 (the first page has none). */
  let cursors: (string | undefined)[] = [undefined];
  let generation = 0;

  function cursorParam(): string {
    if (options.cursor === 'after') return 'after';
    return sort.value === 'oldest' ? 'after' : 'before';
  }

  async function fetchPage(n: number): Promise<void> {
    const mine = ++generation;
    loading.value = true;
    error.value = '';
    try {
      const list = await get<T[]>(options.path, {
        ...options.query(),
        ...(options.sortable === false ? {} : { sort: sort.value }),
        [cursorParam()]: cursors[n - 1],
        limit: pageSize.value + 1,
      });
      if (mine !== generation) return;
      hasNext.value = list.length > pageSize.value;
      rows.value = list.slice(0, pageSize.value);
      page.value = n;
      const last = rows.value.at(-1);
      cursors = cursors.slice(0, n);
      if (hasNext.value && last) cursors[n] = last.id;
    } catch (e) {
      if (mine !== generation) return;
      error.value = e instanceof ApiError ? e.message : '读取失败，请稍后再试';
    } finally {
      if (mine === generation) loading.value = false;
    }
  }

  /** Back to the first page (after a change of filters, sort or page size). */
  function search(): Promise<void> {
    cursors = [undefined];
    return fetchPage(1);
  }
  /** The current page again (after an action changed rows). */
  const reload = () => fetchPage(page.value);
  const next = () => (hasNext.value ? fetchPage(page.value + 1) : Promise.resolve());
  const prev = () => (page.value > 1 ? fetchPage(page.value - 1) : Promise.resolve());

  /** Element Plus's sort-change on the time column: descending → newest first. */
  function onSortChange({ order }: { order: 'ascending' | 'descending' | null }) {
    sort.value = order === 'ascending' ? 'oldest' : 'newest';
    void search();
  }

  return {
    rows,
    page,
    pageSize,
    sort,
    hasNext,
    hasPrev: computed(() => page.value > 1),
    loading,
    error,
    search,
    reload,
    next,
    prev,
    onSortChange,
  };
}

export type KeysetList<T extends { id: string }> = ReturnType<typeof useKeysetList<T>>;
