// WeCom customer-group adapter: the engine's send of one group queues it into its owner's
// task of the run (service.ts); the outcome is sent with a task id, which the engine records
// as `awaiting` until WeCom reports the group sent. Nothing is posted here.
import type { ChannelAdapter } from '../types.js';
import { WECOM_GROUP_RATE_LIMITS } from './limits.js';
import type { WecomGroupService } from './service.js';

export function createWecomGroupAdapter(service: WecomGroupService): ChannelAdapter {
  return {
    kind: 'wecom_group',
    rateLimits: WECOM_GROUP_RATE_LIMITS,
    async send(target, message, options) {
      try {
        return await service.enqueue(target, message, options?.reference);
      } catch {
        // The queue entry is keyed by the delivery, so trying again cannot add the group twice.
        return { status: 'retryable', code: 'task_not_stored', message: '企业微信群发排队保存失败，稍后重试' };
      }
    },
  };
}
