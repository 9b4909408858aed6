import { Card } from '../components/ui';

/** Where the operators' dashboard goes once accounts exist; says what is there today. */
export default function Admin() {
  return (
    <Card title="Administration">
      <div className="space-y-3 text-sm">
        <p>
          The operators' dashboard (node health, peers, the transaction pool, validator operations and user accounts) needs
          signed-in accounts, which this node does not have yet. It will live on this page, and its API under{' '}
          <span className="font-mono text-xs">/api/v1/admin</span>, behind sign-in.
        </p>
        <p>
          Today everything public is in the{' '}
          <a className="text-sky-700 hover:underline dark:text-sky-400" href="/api/v1/docs">
            REST API reference
          </a>{' '}
          and the JSON-RPC endpoint at this address.
        </p>
      </div>
    </Card>
  );
}
