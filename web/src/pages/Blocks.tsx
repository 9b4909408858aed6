import { useQuery } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { api } from '../lib/api';
import { Card, Loaded } from '../components/ui';
import { BlockTable } from '../components/tables';

/** Every block, newest first, 25 a page. */
export default function Blocks() {
  const [params] = useSearchParams();
  const before = params.get('before') ?? undefined;
  const page = useQuery({ queryKey: ['live', 'blocks', before], queryFn: () => api.blocks(before, 25) });
  return (
    <Card
      title="Blocks"
      action={
        page.data?.nextCursor && (
          <Link className="text-sm text-sky-700 hover:underline dark:text-sky-400" to={`/blocks?before=${page.data.nextCursor}`}>
            Older →
          </Link>
        )
      }
    >
      <Loaded query={page} what="blocks">
        {(data) => <BlockTable blocks={data.items} gas />}
      </Loaded>
    </Card>
  );
}
