// Live progress of a campaign through the SSE endpoint. EventSource cannot send the bearer
// token, so the stream is read with fetch. A dropped connection is retried with a growing
// pause (1 s … 10 s) and resumes from the current state: each event carries the whole
// progress, so nothing is lost by reconnecting. Ends when the server sends `end` for a
// finished campaign.
import { onBeforeUnmount, ref } from 'vue';
import { ApiError, authHeaders } from '../api/client';
import type { CampaignProgress } from '../api/types';

/**
 * `keepWatching`: asked when the server ends a finished stream; true while more runs may
 * come (a campaign approved but not yet planned, or a recurring one), so it reconnects.
 */
export function useProgressStream(campaignId: () => string, keepWatching: () => boolean = () => false) {
  const progress = ref<CampaignProgress | null>(null);
  const state = ref<'connecting' | 'live' | 'reconnecting' | 'done' | 'error'>('connecting');
  const message = ref('');
  let abort: AbortController | null = null;
  let stopped = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;

  function handle(event: string, data: string): boolean {
    if (event === 'progress') {
      progress.value = JSON.parse(data) as CampaignProgress;
      state.value = 'live';
      failures = 0;
    } else if (event === 'error') {
      message.value = (JSON.parse(data) as { message?: string }).message ?? '读取进度失败';
    } else if (event === 'end') {
      return true;
    }
    return false;
  }

  async function connect(): Promise<void> {
    abort = new AbortController();
    let ended = false;
    try {
      const response = await fetch(`/api/campaigns/${campaignId()}/progress/stream`, {
        headers: { ...authHeaders(), accept: 'text/event-stream' },
        signal: abort.signal,
      });
      if (!response.ok || !response.body) {
        const body = await response.json().catch(() => ({}));
        throw new ApiError(response.status, body.code ?? 'http_error', body.message ?? '无法读取进度');
      }
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut = buffer.indexOf('\n\n');
        while (cut >= 0) {
          const chunk = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(chunk)?.[1] ?? 'message';
          const data = /^data: (.*)$/m.exec(chunk)?.[1] ?? '{}';
          if (handle(event, data)) ended = true;
          cut = buffer.indexOf('\n\n');
        }
      }
    } catch (error) {
      if (stopped) return;
      if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 429) {
        state.value = 'error';
        message.value = error.message;
        return;
      }
    }
    if (stopped) return;
    if (ended && progress.value?.finished) {
      state.value = 'done';
      if (keepWatching()) retryTimer = setTimeout(() => void connect(), 3000);
      return;
    }
    // Dropped (or the server's stream time ran out while sends continue): come back.
    failures += 1;
    state.value = 'reconnecting';
    retryTimer = setTimeout(() => void connect(), Math.min(1000 * 2 ** (failures - 1), 10_000));
  }

  function start() {
    stopped = false;
    state.value = 'connecting';
    void connect();
  }

  function stop() {
    stopped = true;
    clearTimeout(retryTimer);
    abort?.abort();
  }

  onBeforeUnmount(stop);
  return { progress, state, message, start, stop };
}
