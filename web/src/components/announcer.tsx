// The portal's one polite live region: status messages that a sighted person reads off the
// page as they change (a transfer going from pending to finalized, a copy confirmed, a
// staking call waiting for its block) are also put here, and screen readers read them out
// when they are idle, without moving focus. The region is in the page from the start and
// visually hidden, because screen readers follow changes inside a live region that was
// already there, not one that arrives with its text. Errors do not come here: ErrorNote is
// an alert, read out at once.
import { createContext, type ReactNode, useCallback, useContext, useState } from 'react';

type Announce = (message: string) => void;

const AnnouncerContext = createContext<Announce>(() => {});

/** Holds the live region; `useAnnounce` anywhere below it puts a message there. */
export function Announcer({ children }: { children: ReactNode }) {
  const [message, setMessage] = useState('');
  // The same message twice in a row (two copies) must still change the region's text, or
  // nothing is read out the second time: alternate a trailing no-break space.
  const announce = useCallback<Announce>((next) => setMessage((shown) => (shown === next ? `${next}\u00a0` : next)), []);
  return (
    <AnnouncerContext.Provider value={announce}>
      {children}
      <div role="status" aria-live="polite" aria-atomic="true" className="sr-only" data-testid="announcer">
        {message}
      </div>
    </AnnouncerContext.Provider>
  );
}

/** Says `message` politely to screen readers (see Announcer). */
export function useAnnounce(): Announce {
  return useContext(AnnouncerContext);
}
