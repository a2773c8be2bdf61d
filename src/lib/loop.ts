// A background loop that never overlaps itself: the next pass is scheduled only once the
// previous one has finished (a setInterval would start a pass while a long one still runs,
// and a province's passes then pile up on one another). The first pass runs at once.
export interface Loop {
  /** Stops scheduling passes and waits for the one running, if any. */
  stop(): Promise<void>;
}

/** `everyMs` may be a function: read after each pass (a loop that comes back sooner while behind). */
export function startLoop(
  pass: () => Promise<unknown>,
  everyMs: number | (() => number),
  onError: (error: unknown) => void,
): Loop {
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  const run = () => {
    timer = null;
    if (stopped) return;
    running = pass()
      .then(
        () => undefined,
        (error: unknown) => onError(error),
      )
      .finally(() => {
        running = null;
        if (!stopped) {
          timer = setTimeout(run, typeof everyMs === 'function' ? everyMs() : everyMs);
          timer.unref();
        }
      });
  };
  run();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
