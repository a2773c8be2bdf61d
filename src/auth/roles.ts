// The roles of SPEC §2 and the groupings routes use to declare who may call them.
export const ROLES = ['admin', 'editor', 'reviewer', 'coordinator', 'officer', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_LABELS: Record<Role, string> = {
  admin: '管理员',
  editor: '宣传民警',
  reviewer: '审核',
  coordinator: '市局协调',
  officer: '所长/社区民警',
  viewer: '只读统计',
};

/** Everyone signed in. */
export const ANY_ROLE: readonly Role[] = ROLES;
/** People who write notices and campaigns. */
export const AUTHORS: readonly Role[] = ['admin', 'editor', 'coordinator'];
/** People who approve or reject. */
export const REVIEWERS: readonly Role[] = ['admin', 'reviewer'];
export const ADMINS: readonly Role[] = ['admin'];
/** Everyone but the statistics viewer: people who work with notices, groups and tasks. */
export const STAFF: readonly Role[] = ['admin', 'editor', 'reviewer', 'coordinator', 'officer'];
/** Who gets the signed manual-task links: the officers who post, and admins. */
export const TASK_LINK_HOLDERS: readonly Role[] = ['admin', 'officer'];
