/** Polls `condition` until it holds (the test's own timeout bounds the wait). */
export async function until(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((r) => setTimeout(r, 20));
}
