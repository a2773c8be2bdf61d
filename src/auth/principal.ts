import type { Actor } from '../audit/service.js';
import type { Scope } from '../regions/scope.js';
import type { Role } from './roles.js';

/** The signed-in caller, as every service sees it. */
export interface Principal extends Actor {
  displayName: string;
  role: Role;
  scope: Scope;
  /** Still on a generated password: only /api/auth/* until it is changed. */
  mustChangePassword?: boolean;
}
