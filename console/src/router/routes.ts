// Every screen of the console: one entry per path (paths are stable: tests, screenshots and
// bookmarks use them). `roles` limits who may open it; `nav` puts it in the left navigation
// under a group. To add a screen, add an entry here — the navigation and guard follow.
import type { RouteRecordRaw } from 'vue-router';
import type { Role } from '../api/types';
import type { WorkbenchCounts } from '../api/workbench';

export const AUTHORS: Role[] = ['admin', 'editor', 'coordinator'];
export const REVIEWERS: Role[] = ['admin', 'reviewer'];
export const ADMINS: Role[] = ['admin'];
/** Who works with the group directory and the region tree (edits stay admin-only in the API). */
export const DIRECTORY: Role[] = ['admin', 'coordinator', 'editor', 'officer'];
/** Officers on the ground: their own manual-forwarding tasks. */
export const FIELD: Role[] = ['admin', 'officer'];
/** Everyone but the statistics viewer: the API keeps notices (drafts of wanted notices) from viewers. */
export const STAFF: Role[] = ['admin', 'editor', 'reviewer', 'coordinator', 'officer'];

export interface NavEntry {
  /** Navigation group (see NAV_GROUPS in nav.ts). */
  group: string;
  label: string;
  order: number;
  /** A count shown on the entry (things waiting), from the workbench's counts (one request per navigation). */
  badge?: (counts: WorkbenchCounts) => number;
}

declare module 'vue-router' {
  interface RouteMeta {
    /** Breadcrumb and page title. */
    title?: string;
    /** Who may open the screen; absent: every signed-in user. */
    roles?: Role[];
    nav?: NavEntry;
    /** Breadcrumb parent (a path), e.g. /notices for /notices/new. */
    parent?: string;
    /** Screens outside the shell (login, public pages). */
    bare?: boolean;
    /** Reachable without signing in. */
    public?: boolean;
  }
}

const sum = (...counts: (number | null)[]) => counts.reduce<number>((total, n) => total + (n ?? 0), 0);

export const screens: RouteRecordRaw[] = [
  {
    path: '/',
    component: () => import('../views/HomeView.vue'),
    meta: { title: '工作台', nav: { group: 'home', label: '工作台', order: 10 } },
  },
  {
    path: '/notices',
    component: () => import('../views/NoticeListView.vue'),
    meta: { title: '通告', roles: STAFF, nav: { group: 'content', label: '通告', order: 10 } },
  },
  {
    path: '/notices/new',
    component: () => import('../views/NoticeEditView.vue'),
    meta: { title: '新增通告', roles: AUTHORS, parent: '/notices' },
  },
  {
    path: '/notices/:id',
    component: () => import('../views/NoticeEditView.vue'),
    meta: { title: '通告详情', parent: '/notices' },
  },
  {
    path: '/reviews',
    component: () => import('../views/ReviewView.vue'),
    meta: {
      title: '审核',
      roles: REVIEWERS,
      nav: { group: 'content', label: '审核', order: 20, badge: (c) => sum(c.noticesInReview, c.campaignsInReview) },
    },
  },
  {
    path: '/campaigns',
    component: () => import('../views/CampaignListView.vue'),
    meta: {
      title: '推送任务',
      nav: { group: 'push', label: '推送', order: 10, badge: (c) => sum(c.failed, c.uncertain) },
    },
  },
  {
    path: '/campaigns/new',
    component: () => import('../views/CampaignWizardView.vue'),
    meta: { title: '新建推送', roles: AUTHORS, parent: '/campaigns' },
  },
  {
    path: '/campaigns/:id',
    component: () => import('../views/CampaignView.vue'),
    meta: { title: '推送详情', parent: '/campaigns' },
  },
  {
    path: '/calendar',
    component: () => import('../views/CalendarView.vue'),
    meta: { title: '日程', nav: { group: 'push', label: '日程', order: 20 } },
  },
  // Console part 2: reach, directory, administration, the officer's tasks.
  {
    path: '/reach',
    component: () => import('../views/ReachView.vue'),
    meta: { title: '触达统计', nav: { group: 'reach', label: '触达统计', order: 10 } },
  },
  {
    path: '/reach/monthly',
    component: () => import('../views/ReachMonthlyView.vue'),
    meta: { title: '月度统计表', parent: '/reach', nav: { group: 'reach', label: '月度统计表', order: 20 } },
  },
  {
    path: '/groups',
    component: () => import('../views/GroupsView.vue'),
    meta: { title: '群组', roles: DIRECTORY, nav: { group: 'directory', label: '群组', order: 10 } },
  },
  {
    path: '/regions',
    component: () => import('../views/RegionsView.vue'),
    meta: { title: '区划', roles: DIRECTORY, nav: { group: 'directory', label: '区划', order: 20 } },
  },
  {
    path: '/users',
    component: () => import('../views/UsersView.vue'),
    meta: { title: '用户', roles: ADMINS, nav: { group: 'admin', label: '用户', order: 10 } },
  },
  {
    path: '/audit',
    component: () => import('../views/AuditView.vue'),
    meta: { title: '审计日志', roles: ADMINS, nav: { group: 'admin', label: '审计', order: 20 } },
  },
  {
    path: '/tasks',
    component: () => import('../views/TasksView.vue'),
    meta: {
      title: '我的转发任务',
      roles: FIELD,
      nav: { group: 'field', label: '我的转发任务', order: 10, badge: (c) => c.myTasks ?? 0 },
    },
  },
  {
    path: '/tips',
    component: () => import('../views/TipsView.vue'),
    meta: { title: '线索', nav: { group: 'field', label: '线索', order: 30, badge: (c) => c.newTips } },
  },
  {
    path: '/cases',
    component: () => import('../views/CasesView.vue'),
    meta: {
      title: '协查案件',
      roles: AUTHORS,
      nav: {
        group: 'content',
        label: '协查案件',
        order: 30,
        badge: (c) => c.casesToHandle ?? 0,
      },
    },
  },
  {
    path: '/cases/location',
    component: () => import('../views/LocationPreviewView.vue'),
    meta: { title: '测算协查范围', roles: AUTHORS, parent: '/cases' },
  },
];

export const routes: RouteRecordRaw[] = [
  {
    path: '/login',
    component: () => import('../views/LoginView.vue'),
    meta: { title: '登录', bare: true, public: true },
  },
  {
    path: '/',
    component: () => import('../layouts/ShellLayout.vue'),
    children: screens.map((screen) => (screen.path === '/' ? { ...screen, path: '' } : screen)),
  },
  {
    path: '/task/:id',
    component: () => import('../views/TaskPhoneView.vue'),
    meta: { title: '转发任务', bare: true, public: true },
  },
  {
    path: '/:rest(.*)*',
    component: () => import('../views/NotFoundView.vue'),
    meta: { title: '页面不存在', public: true, bare: true },
  },
];
