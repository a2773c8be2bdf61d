// Manual channel adapter: "sending" creates the officer's task. The outcome is sent (the
// task exists); the officer's confirmation arrives later through ManualTaskService.confirm.
import type { ChannelAdapter } from '../types.js';
import type { ManualTaskService } from './tasks.js';

export function createManualAdapter(tasks: ManualTaskService): ChannelAdapter {
  return {
    kind: 'manual',
    // A person forwards these; no robot limit applies.
    rateLimits: [],
    async send(target, message, options) {
      try {
        const task = await tasks.createTask(target, message, options?.reference);
        return { status: 'sent', taskId: task.id };
      } catch {
        // The task is keyed by the delivery, so trying again cannot make a second one.
        return { status: 'retryable', code: 'task_not_stored', message: '转发任务保存失败，稍后重试' };
      }
    },
  };
}
