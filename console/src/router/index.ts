// History-mode router (Fastify serves index.html for every console path) with the guard:
// no token → /login; a 401 from any call → /login with a message; a role that may not
// open a screen → its home; a password that must change → the change dialog first.
import { createRouter, createWebHistory } from 'vue-router';
import { handleUnauthorized, http, unwrap } from '../api/client';
import { hasRole, session, signOut } from '../session';
import { homeFor } from './nav';
import { routes } from './routes';

export const router = createRouter({ history: createWebHistory(), routes });

export const LOGIN_REASONS: Record<string, string> = {
  expired: '登录已过期或已在别处退出，请重新登录',
  password: '密码已修改，请用新密码重新登录',
  logout: '已退出登录',
};

handleUnauthorized(() => {
  signOut();
  const current = router.currentRoute.value;
  if (current.path !== '/login') {
    void router.replace({ path: '/login', query: { reason: 'expired', redirect: current.fullPath } });
  }
});

export async function loadMe(): Promise<void> {
  session.user = await unwrap(http.GET('/api/auth/me'));
  try {
    session.regionName = (await unwrap(http.GET('/api/regions/{code}', { params: { path: { code: session.user.regionCode } } }))).name;
  } catch {
    session.regionName = session.user.regionCode;
  }
}

router.beforeEach(async (to) => {
  if (to.meta.public) return true;
  if (!session.token) return { path: '/login', query: to.fullPath === '/' ? {} : { redirect: to.fullPath } };
  if (!session.user) {
    try {
      await loadMe();
    } catch {
      return false; // a 401 already went to /login
    }
  }
  if (!hasRole(to.meta.roles)) return homeFor(session.user?.role);
  return true;
});

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} · 警讯` : '警讯';
});
