// Who is signed in, for every page: the signed-in user (`/api/v1/me`), resumed from the
// refresh cookie on load when this browser signed in before, and cleared when the session
// ends (signed out here, ended elsewhere, or refused on refresh).
import { createContext, type ReactNode, useCallback, useContext, useEffect, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { accounts, type Me, onSessionChange, refresh, signedIn } from './accounts';

/** Set while this browser holds a session, so that a visitor who never signed in is not
 * sent through a refresh on every load. It holds no secret. */
const HINT = 'btcr-signed-in';

export interface SessionState {
  me: Me | null;
  /** False until the first check (resuming a session) is done. */
  ready: boolean;
  /** Reads the signed-in user again (after signing in, or a change to the account). */
  reload: () => Promise<void>;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<SessionState | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [ready, setReady] = useState(false);
  const reload = useCallback(async () => {
    try {
      if (!signedIn() && !(await refresh())) {
        setMe(null);
        return;
      }
      setMe(await accounts.me());
      localStorage.setItem(HINT, '1');
    } catch {
      setMe(null);
    }
  }, []);
  useEffect(() => {
    const resume = localStorage.getItem(HINT) ? reload() : Promise.resolve();
    resume.finally(() => setReady(true));
    return onSessionChange(() => {
      if (!signedIn()) {
        localStorage.removeItem(HINT);
        setMe(null);
      }
    });
  }, [reload]);
  const signOut = useCallback(async () => {
    await accounts.logout().catch(() => undefined);
  }, []);
  return <SessionContext.Provider value={{ me, ready, reload, signOut }}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error('useSession outside the session provider');
  return state;
}

/** What the node says to everyone: registration open or closed, a banner, the password
 * length. */
export function usePublicSettings() {
  return useQuery({ queryKey: ['accounts', 'settings'], queryFn: accounts.settings, staleTime: 10_000 });
}
