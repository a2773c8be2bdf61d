// Audit entries as Chinese sentences: 张三 修改了群「石牌村平安群1」（改动：名称、标签）. No action
// code, id or JSON reaches the screen; an action this table does not know reads 进行了操作.
import { CHANNEL_LABELS, ROLE_LABELS } from './labels';
import type { Role } from './api/types';

const KIND_WORDS: Record<string, string> = {
  notice: '通告',
  campaign: '推送',
  group: '群',
  user: '用户',
  region: '区划',
  tip: '线索',
  media: '图片',
  task: '人工转发任务',
};

/** What was done, as a verb phrase; the target's kind and name follow. */
export const ACTION_WORDS: Record<string, string> = {
  'auth.login': '登录了系统',
  'auth.logout': '退出了登录',
  'auth.login-failed': '登录失败',
  'user.create': '新建了',
  'user.update': '修改了',
  'user.password': '修改了密码',
  'user.unlock': '解除了锁定',
  'user.bootstrap-admin': '创建了首个管理员',
  'notice.create': '新建了',
  'notice.update': '修改了',
  'notice.submit': '提交审核了',
  'notice.approve': '审核通过了',
  'notice.reject': '驳回了',
  'notice.archive': '归档了',
  'notice.personal_data_confirm': '确认公开个人信息于',
  'campaign.create': '新建了',
  'campaign.update': '修改了',
  'campaign.submit': '提交审核了',
  'campaign.approve': '审核通过了',
  'campaign.reject': '驳回了',
  'campaign.pause': '暂停了',
  'campaign.resume': '恢复了',
  'campaign.cancel': '取消了',
  'campaign.retract': '撤回了',
  'campaign.export_deliveries': '导出了发送明细：',
  'campaign.test-send': '试发了',
  'group.create': '新建了',
  'group.update': '修改了',
  'group.channel.change': '更换了发送凭据：',
  'group.import': '导入了群组台账',
  'group.export': '导出了群组台账',
  'group.test-message': '发送了测试消息到',
  'region.create': '新建了',
  'region.update': '修改了',
  'region.seed': '按全国区划名单导入了县',
  'region.import': '导入了区划',
  'region.export': '导出了区划',
  'reach.export_monthly': '导出了月度统计表',
  'media.upload': '上传了图片',
  'tip.receive': '收到了',
  'tip.list': '查看了线索列表',
  'tip.view': '查看了',
  'tip.photo_view': '查看了线索照片',
  'tip.update': '处理了',
  'case.expire': '将协查案件标为已过期：',
  'case.solve': '将协查案件标为已抓获/已破案：',
  'wanted.deadline': '设置了协查期限：',
  'wanted.incident': '设置了案发地点：',
  'audience.touched': '更新了受众',
  'channel.kind': '更换了渠道',
  'manual-task.confirm': '确认已转发到群：',
  'user.notify-robot.change': '设置了通知机器人：',
  'user.notify-robot.clear': '清除了通知机器人：',
  'user.wecom-userid.change': '设置了企业微信账号：',
  'officer-text.change': '设置了民警转发文字是否带链接：',
  'wecom-app.change': '设置了企业微信应用：',
  'wecom-groups.sync': '同步了企业微信客户群：',
  'wecom-groups.pick-village': '为企业微信客户群选定了村（社区）：',
  deny: '被拒绝访问',
};

const FIELD_WORDS: Record<string, string> = {
  title: '标题',
  body: '正文',
  summary: '摘要',
  category: '分类',
  media: '图片',
  tags: '标签',
  name: '名称',
  regionCode: '所属区划',
  channel: '发送凭据',
  memberCount: '人数',
  officer: '负责民警',
  active: '启用状态',
  displayName: '姓名',
  role: '角色',
  phone: '电话',
  password: '密码',
  lat: '纬度',
  lng: '经度',
  audience: '受众',
  schedule: '发送时间',
  priority: '优先级',
  cardStyle: '卡片样式',
  wanted: '协查信息',
  validFrom: '生效时间',
  validUntil: '失效时间',
  hotline: '热线',
  issuingUnit: '发布单位',
  status: '状态',
  note: '备注',
};

const TIP_STATUS: Record<string, string> = { new: '新线索', read: '已读', useful: '有价值', closed: '已关闭' };

export interface AuditLike {
  actorName: string | null;
  action: string;
  targetKind: string | null;
  targetId: string | null;
  targetName?: string | null;
  details: Record<string, unknown> | null;
}

/** 修改了群「石牌村平安群1」 — the target by its name (never its id). */
export function auditSentence(entry: AuditLike): string {
  const verb = ACTION_WORDS[entry.action] ?? '进行了操作';
  const kind = entry.targetKind ? (KIND_WORDS[entry.targetKind] ?? '') : '';
  const name = entry.targetName ?? detailString(entry.details, 'title') ?? detailString(entry.details, 'name');
  if (!kind && !name) return verb;
  // Verbs ending in a colon or naming the object already take the name directly.
  if (verb.endsWith('：')) return `${verb}${name ? `「${name}」` : kind}`;
  if (/[了于到]$/.test(verb)) return `${verb}${kind}${name ? `「${name}」` : ''}`;
  return name ? `${verb}（${kind}「${name}」）` : verb;
}

function detailString(details: Record<string, unknown> | null, key: string): string | null {
  const value = details?.[key];
  return typeof value === 'string' && value ? value : null;
}

/** The details that matter to a person, as short Chinese phrases; ids, hashes and codes are left out. */
export function auditDetails(entry: AuditLike): string {
  const d = entry.details ?? {};
  const parts: string[] = [];
  if (Array.isArray(d.changed) && d.changed.length) {
    parts.push(`改动：${d.changed.map((k) => FIELD_WORDS[String(k)] ?? '其他').filter((v, i, a) => a.indexOf(v) === i).join('、')}`);
  }
  if (typeof d.version === 'number') parts.push(`第 ${d.version} 版`);
  if (typeof d.newVersion === 'boolean' && d.newVersion) parts.push('生成新版本');
  if (typeof d.note === 'string' && d.note) parts.push(`意见：${d.note}`);
  if (typeof d.reason === 'string' && d.reason) parts.push(`原因：${d.reason === 'inactive' ? '账号已停用' : d.reason}`);
  if (typeof d.role === 'string' && ROLE_LABELS[d.role as Role]) parts.push(`角色：${ROLE_LABELS[d.role as Role]}`);
  if (typeof d.channelKind === 'string') parts.push(`渠道：${CHANNEL_LABELS[d.channelKind] ?? '其他'}`);
  if (typeof d.created === 'number') parts.push(`新增 ${d.created} 条`);
  if (typeof d.updated === 'number') parts.push(`更新 ${d.updated} 条`);
  if (typeof d.kept === 'number') parts.push(`保留 ${d.kept} 条`);
  if (typeof d.rejected === 'number') parts.push(`有误 ${d.rejected} 行`);
  if (typeof d.rows === 'number') parts.push(`${d.rows} 行`);
  if (typeof d.filename === 'string') parts.push(`文件：${d.filename}`);
  if (typeof d.month === 'string') parts.push(`月份：${d.month.replace(/^(\d{4})-(\d{2})$/, '$1年$2月')}`);
  if (typeof d.format === 'string') parts.push(`格式：${d.format === 'csv' ? 'CSV' : 'Excel'}`);
  if (typeof d.failures === 'number') parts.push(`连续失败 ${d.failures} 次`);
  if (typeof d.username === 'string' && entry.action.startsWith('auth.')) parts.push(`登录名：${d.username}`);
  if (Array.isArray(d.tipIds)) parts.push(`${d.tipIds.length} 条线索`);
  if (typeof d.status === 'string' && TIP_STATUS[d.status]) parts.push(`状态：${TIP_STATUS[d.status]}`);
  if (typeof d.photo === 'boolean') parts.push(d.photo ? '附照片' : '无照片');
  if (typeof d.outcome === 'string') parts.push(d.outcome === 'sent' ? '发送成功' : '发送失败');
  if (typeof d.cleared === 'boolean' && d.cleared) parts.push('已解除锁定');
  return parts.join('；');
}
