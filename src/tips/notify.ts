// Telling the case officer of new tips through their own notification robot (the station's
// work group): a count and a link to the inbox, never a tip's text, phone or photo.
import type { ChannelCredentials } from '../channels/credentials.js';
import type { ChannelRegistry } from '../channels/registry.js';

export function caseOfficerNotifier(deps: {
  /** The opened credentials of a user's notification robot, or null when none is configured. */
  credentialsOf: (userId: string) => Promise<ChannelCredentials | null>;
  channels: ChannelRegistry;
  publicBaseUrl: string;
}) {
  return async (
    contactUserId: string | null,
    notice: { id: string; title: string },
    newTips: number,
  ): Promise<{ status: 'sent' | 'skipped' | 'failed'; reason: string | null }> => {
    if (!contactUserId) return { status: 'skipped', reason: '通告未指定办案民警' };
    const credentials = await deps.credentialsOf(contactUserId);
    if (!credentials) return { status: 'skipped', reason: '办案民警未配置通知机器人' };
    const url = `${deps.publicBaseUrl}/tips?noticeId=${encodeURIComponent(notice.id)}`;
    const outcome = await deps.channels.adapterFor(credentials.kind).send(
      { groupId: `user:${contactUserId}`, groupName: '通知机器人', credentials, regionPath: [], officer: null },
      {
        type: 'text',
        card: {
          format: 'text',
          title: '新线索',
          content: `【警讯】协查通告“${notice.title}”有 ${newTips} 条新线索待查看：${url}`,
          url,
          pictureUrl: null,
        },
      },
    );
    return outcome.status === 'sent'
      ? { status: 'sent', reason: null }
      : { status: 'failed', reason: (outcome as { message?: string }).message ?? outcome.status };
  };
}
