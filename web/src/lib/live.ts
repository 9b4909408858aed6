// Live updates: the node's WebSocket `newHeads` subscription. New heads refresh what the
// pages show (the queries keyed under 'live'), at most about once a second whatever the
// block time: with 100 ms blocks, refetching on every head would be ten rounds of requests a
// second. The socket reconnects after a second when it drops.
import { useEffect, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { throttle } from './throttle';

/** The least time between two refreshes of the live queries. The throttle runs the first
 * head of a burst at once and the latest one when the interval ends, so the page never
 * stays behind the chain's head for longer than this. */
export const LIVE_REFRESH_MS = 1000;

/** The WebSocket address of the node that served this page (JSON-RPC on the same port). */
export function nodeWebSocketUrl(location: Location = window.location): string {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  // `npm run dev` proxies the node under /rpc; the node itself serves JSON-RPC at /.
  const path = import.meta.env.DEV ? '/rpc' : '/';
  return `${scheme}://${location.host}${path}`;
}

/** Subscribes to new heads while mounted; returns the latest height seen (updated with each
 * refresh) and whether the socket is up. */
export function useLiveHeads(): { height: number | null; connected: boolean } {
  const client = useQueryClient();
  const [height, setHeight] = useState<number | null>(null);
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    let socket: WebSocket | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let closed = false;
    const refresh = throttle((head: number) => {
      setHeight(head);
      void client.invalidateQueries({ queryKey: ['live'] });
    }, LIVE_REFRESH_MS);
    const open = () => {
      socket = new WebSocket(nodeWebSocketUrl());
      socket.onopen = () => {
        setConnected(true);
        socket?.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_subscribe', params: ['newHeads'] }));
      };
      socket.onmessage = (event) => {
        const message = JSON.parse(String(event.data));
        const head = message?.params?.result;
        if (head?.number) refresh.call(Number.parseInt(head.number, 16));
      };
      socket.onclose = () => {
        setConnected(false);
        if (!closed) retry = setTimeout(open, 1000);
      };
    };
    open();
    return () => {
      closed = true;
      clearTimeout(retry);
      refresh.cancel();
      socket?.close();
    };
  }, [client]);
  return { height, connected };
}
