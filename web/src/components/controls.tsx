// Interactive controls built on Radix primitives (tabs, dialogs), kept apart from ui.tsx so
// that only the pages using them load them.
import type { ReactNode } from 'react';
import * as RadixDialog from '@radix-ui/react-dialog';
import * as RadixTabs from '@radix-ui/react-tabs';
import { Button } from './forms';

/** Tabs (Radix): `tabs` are [value, label]; the content of each follows as children keyed
 * by value. */
export function Tabs({
  value,
  onChange,
  tabs,
  children,
  label,
}: {
  value: string;
  onChange: (value: string) => void;
  tabs: [string, string][];
  children: Record<string, ReactNode>;
  label: string;
}) {
  return (
    <RadixTabs.Root value={value} onValueChange={onChange}>
      <RadixTabs.List aria-label={label} className="mb-3 flex flex-wrap gap-1 text-sm">
        {tabs.map(([v, text]) => (
          <RadixTabs.Trigger
            key={v}
            value={v}
            className="rounded-md px-2.5 py-1 text-zinc-600 data-[state=active]:bg-zinc-200 data-[state=active]:font-medium data-[state=active]:text-zinc-900 dark:text-zinc-400 dark:data-[state=active]:bg-zinc-800 dark:data-[state=active]:text-zinc-100"
          >
            {text}
          </RadixTabs.Trigger>
        ))}
      </RadixTabs.List>
      {tabs.map(([v]) => (
        <RadixTabs.Content key={v} value={v} className="outline-none">
          {children[v]}
        </RadixTabs.Content>
      ))}
    </RadixTabs.Root>
  );
}

/** A modal dialog (Radix): focus stays inside, Escape or the close button dismisses it. */
export function Dialog({
  open,
  onOpenChange,
  title,
  description,
  children,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: string;
  description: string;
  children: ReactNode;
}) {
  return (
    <RadixDialog.Root open={open} onOpenChange={onOpenChange}>
      <RadixDialog.Portal>
        <RadixDialog.Overlay className="fixed inset-0 z-40 bg-black/40" />
        <RadixDialog.Content className="fixed top-1/2 left-1/2 z-50 w-[calc(100%-2rem)] max-w-md -translate-x-1/2 -translate-y-1/2 space-y-3 rounded-xl border border-zinc-200 bg-white p-5 shadow-xl dark:border-zinc-800 dark:bg-zinc-900">
          <RadixDialog.Title className="text-base font-semibold">{title}</RadixDialog.Title>
          <RadixDialog.Description className="text-sm text-zinc-600 dark:text-zinc-400">{description}</RadixDialog.Description>
          {children}
          <RadixDialog.Close asChild>
            <Button variant="ghost" size="icon" aria-label="Close" className="absolute top-3 right-3">
              ×
            </Button>
          </RadixDialog.Close>
        </RadixDialog.Content>
      </RadixDialog.Portal>
    </RadixDialog.Root>
  );
}
