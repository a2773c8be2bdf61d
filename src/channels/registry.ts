// All channel adapters behind one lookup: the engine asks adapterFor(group.channelKind).
import type { Clock } from '../lib/clock.js';
import { createDingtalkAdapter } from './dingtalk/adapter.js';
import { createFeishuAdapter } from './feishu/adapter.js';
import { createManualAdapter } from './manual/adapter.js';
import type { ManualTaskService } from './manual/tasks.js';
import { Outbound } from './outbound.js';
import type { ChannelAdapter, ChannelKind } from './types.js';
import { createWebhookAdapter } from './webhook/adapter.js';
import { createWecomAdapter } from './wecom/adapter.js';
import { createWecomGroupAdapter } from './wecom-group/adapter.js';
import type { WecomGroupService } from './wecom-group/service.js';

export interface ChannelSettings {
  wecomBaseUrl: string;
  dingtalkBaseUrl: string;
  feishuBaseUrl: string;
  timeoutMs: number;
  wecomTextMaxBytes?: number;
  /** Host names, addresses and ranges posts may reach although private (OUTBOUND_ALLOW_HOSTS). */
  outboundAllowHosts: readonly string[];
}

export class ChannelRegistry {
  readonly #adapters: Record<ChannelKind, ChannelAdapter>;

  constructor(settings: ChannelSettings, clock: Clock, manualTasks: ManualTaskService, wecomGroups: WecomGroupService) {
    const timeoutMs = settings.timeoutMs;
    // One allow-list for every channel: robot base URLs are checked like webhook URLs.
    const outbound = new Outbound(settings.outboundAllowHosts);
    this.#adapters = {
      wecom: createWecomAdapter({
        baseUrl: settings.wecomBaseUrl,
        outbound,
        timeoutMs,
        textMaxBytes: settings.wecomTextMaxBytes,
      }),
      dingtalk: createDingtalkAdapter({ baseUrl: settings.dingtalkBaseUrl, outbound, timeoutMs, clock }),
      feishu: createFeishuAdapter({ baseUrl: settings.feishuBaseUrl, outbound, timeoutMs, clock }),
      webhook: createWebhookAdapter({ outbound, timeoutMs, clock }),
      manual: createManualAdapter(manualTasks),
      wecom_group: createWecomGroupAdapter(wecomGroups),
    };
  }

  adapterFor(kind: ChannelKind): ChannelAdapter {
    return this.#adapters[kind];
  }
}
