// The bell in the header: the signed-in user's unread notifications, linking to the list.
// It holds the page's live connection, which refreshes the count (and the list) at each new
// notification; the count is also read again every 30 s, in case that connection is down.
import { Link } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { notify, useLiveNotifications } from '../lib/notifications';
import { useSession } from '../lib/session';

/** How often the count is read again without the live connection. */
const POLL_MS = 30_000;

export function NotificationBell() {
  const { me } = useSession();
  useLiveNotifications(me !== null);
  const unread = useQuery({
    queryKey: ['notifications', 'unread'],
    queryFn: async () => (await notify.list(1)).unread,
    enabled: me !== null,
    refetchInterval: POLL_MS,
  });
  if (!me) return null;
  const count = unread.data ?? 0;
  const label = count === 0 ? 'Notifications: none unread' : `Notifications: ${count} unread`;
  return (
    <Link to="/notifications" className="relative shrink-0 rounded-md px-1.5 py-1 text-zinc-600 hover:text-zinc-900 dark:text-zinc-400 dark:hover:text-zinc-100" aria-label={label} title={label} data-testid="bell">
      <svg aria-hidden="true" viewBox="0 0 24 24" className="h-5 w-5" fill="none" stroke="currentColor" strokeWidth="1.8">
        <path d="M6 8a6 6 0 1 1 12 0c0 7 3 8 3 8H3s3-1 3-8" />
        <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
      </svg>
      {count > 0 && (
        <span className="absolute -top-1 -right-1 min-w-4 rounded-full bg-red-600 px-1 text-center text-[10px] leading-4 font-semibold text-white" data-testid="bell-count">
          {count > 99 ? '99+' : count}
        </span>
      )}
    </Link>
  );
}
