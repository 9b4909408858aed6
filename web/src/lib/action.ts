// One step a person starts from a form or a button: whether it is running, and how it failed.
import { type FormEvent, useState } from 'react';

export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  /** Runs `step` (the form's submission, when `e` is given), keeping its error. */
  const run = async (step: () => Promise<void>, e?: FormEvent) => {
    e?.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await step();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}
