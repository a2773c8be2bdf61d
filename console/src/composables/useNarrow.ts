// True on phone-width screens (≤ 768 px), for layouts that must change shape rather than shrink.
import { onBeforeUnmount, ref } from 'vue';

export function useNarrow() {
  const query = window.matchMedia('(max-width: 768px)');
  const narrow = ref(query.matches);
  const update = () => {
    narrow.value = query.matches;
  };
  query.addEventListener('change', update);
  onBeforeUnmount(() => query.removeEventListener('change', update));
  return narrow;
}
