// Every list screen pages one way: on the server, by keyset cursor (the last row's id), never
// by loading a few hundred rows and slicing or filtering them in the page — so row 501 is as
// reachable as row 1 and nothing vanishes silently. The screen gives the typed call that reads
// one page (its filters, on the openapi-fetch client); this keeps the page number, the cursors
// of the pages seen, the page size, the sort, whether a next page exists (it asks for one row
// more) and the rows picked for a batch action.
import { type Ref, computed, ref, shallowRef } from 'vue';
import { ApiError } from '../api/client';

/** By creation date; a list sorted by a column adds its own sorts (e.g. 群组's 'name', '-members'). */
export type ListSort = 'newest' | 'oldest';

/** What one page asks the API for: the cursor goes with the sort (before newest first, after for any other order). */
export interface PageRequest<S extends string = ListSort> {
  before?: string;
  after?: string;
  sort: S;
  limit: number;
}

export interface ListOptions<T, S extends string = ListSort> {
  /** Reads one page, e.g. `(page) => unwrap(http.GET('/api/groups', { params: { query: { ...filters(), ...page } } }))`. */
  load: (page: PageRequest<S>) => Promise<T[]>;
  /** The order of the first load (lists by date: newest; directories: oldest). */
  sort?: S;
  pageSize?: number;
}

export function useList<T extends { id: string }, S extends string = ListSort>(options: ListOptions<T, S>) {
  const rows = shallowRef<T[]>([]);
  const page = ref(1);
  const pageSize = ref(options.pageSize ?? 10);
  const sort = ref(options.sort ?? 'newest') as Ref<S>;
  const hasNext = ref(false);
  const loading = ref(false);
  const error = ref('');
  /** Rows picked for a batch action (the table's selection on this page). */
  const selected = shallowRef<T[]>([]);
  /** cursors[i] loads page i + 1 (the first page has none). */
  let cursors: (string | undefined)[] = [undefined];
  let generation = 0;
  /**
   * The page last asked for: a reload (a background refresh, a changed figure) reads this one,
   * so a 下一页 still on its way is not overtaken by a re-read of the page it is leaving.
   */
  let wanted = 1;

  async function fetchPage(n: number): Promise<void> {
    const mine = ++generation;
    wanted = n;
    loading.value = true;
    error.value = '';
    try {
      const cursor = cursors[n - 1];
      const list = await options.load({
        sort: sort.value,
        limit: pageSize.value + 1,
        ...(cursor ? (sort.value === 'newest' ? { before: cursor } : { after: cursor }) : {}),
      });
      if (mine !== generation) return;
      hasNext.value = list.length > pageSize.value;
      rows.value = list.slice(0, pageSize.value);
      selected.value = [];
      page.value = n;
      const last = rows.value.at(-1);
      cursors = cursors.slice(0, n);
      if (hasNext.value && last) cursors[n] = last.id;
    } catch (e) {
      if (mine !== generation) return;
      wanted = page.value;
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
  /** The current page again (after an action changed rows), or the one on its way. */
  const reload = () => fetchPage(wanted);
  const next = () => (hasNext.value ? fetchPage(page.value + 1) : Promise.resolve());
  const prev = () => (page.value > 1 ? fetchPage(page.value - 1) : Promise.resolve());

  function setPageSize(n: number): Promise<void> {
    pageSize.value = n;
    return search();
  }

  /** Element Plus's sort-change on the time column: descending → newest first. */
  function onSortChange({ order }: { order: 'ascending' | 'descending' | null }) {
    sort.value = (order === 'ascending' ? 'oldest' : order === 'descending' ? 'newest' : (options.sort ?? 'newest')) as S;
    void search();
  }

  /** A new order (a column's sort-change): back to the first page in it. */
  function sortBy(next: S): Promise<void> {
    sort.value = next;
    return search();
  }

  /** Element Plus's selection-change. */
  function onSelectionChange(picked: T[]) {
    selected.value = picked;
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
    selected,
    search,
    reload,
    next,
    prev,
    setPageSize,
    onSortChange,
    sortBy,
    onSelectionChange,
  };
}

export type List<T extends { id: string }, S extends string = ListSort> = ReturnType<typeof useList<T, S>>;

/** What the pager under a list reads and moves (any list, whatever its rows and sorts). */
export type Pager = Pick<List<{ id: string }>, 'page' | 'pageSize' | 'hasPrev' | 'hasNext' | 'loading' | 'rows' | 'prev' | 'next' | 'setPageSize'>;
