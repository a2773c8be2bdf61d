// Who is signed in: the bearer token (kept in localStorage so a reload stays signed in)
// and the user it belongs to. Cleared on logout and on any 401.
import { reactive } from 'vue';
import type { Role, User } from './api/types';

const TOKEN_KEY = 'jingxun.token';

export const session = reactive({
  token: localStorage.getItem(TOKEN_KEY) as string | null,
  user: null as User | null,
  /** Name of the user's scope region, shown in the user menu. */
  regionName: '' as string,
});

export function signIn(token: string, user: User): void {
  session.token = token;
  session.user = user;
  localStorage.setItem(TOKEN_KEY, token);
}

export function signOut(): void {
  session.token = null;
  session.user = null;
  session.regionName = '';
  localStorage.removeItem(TOKEN_KEY);
}

export function hasRole(roles: readonly Role[] | undefined): boolean {
  if (!roles) return true;
  return !!session.user && roles.includes(session.user.role);
}
