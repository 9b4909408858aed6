import { describe, expect, it } from 'vitest';
import { renderToStaticMarkup } from 'react-dom/server';
import { Button, buttonClass, Field, Input, Select } from './forms';

/** Parses markup into attributes per tag, in document order. */
function tags(html: string): { tag: string; attrs: Record<string, string>; text: string }[] {
  const found: { tag: string; attrs: Record<string, string>; text: string }[] = [];
  for (const m of html.matchAll(/<(\w+)([^>]*)>([^<]*)/g)) {
    const attrs: Record<string, string> = {};
    for (const a of m[2].matchAll(/([\w-]+)="([^"]*)"/g)) attrs[a[1]] = a[2];
    found.push({ tag: m[1], attrs, text: m[3] });
  }
  return found;
}

describe('Field', () => {
  it('labels its control and points it at the error, marked invalid', () => {
    const html = renderToStaticMarkup(
      <Field label="Amount (BTCR)" hint="In BTCR, up to 18 decimals." error="“abc” is not an amount.">
        <Input name="amount" />
      </Field>,
    );
    const label = tags(html).find((t) => t.tag === 'label')!;
    const input = tags(html).find((t) => t.tag === 'input')!;
    const note = tags(html).find((t) => t.tag === 'p')!;
    expect(label.attrs.for).toBe(input.attrs.id);
    expect(input.attrs['aria-invalid']).toBe('true');
    expect(input.attrs['aria-describedby']).toBe(note.attrs.id);
    // The error takes the hint's place.
    expect(note.text).toBe('“abc” is not an amount.');
    expect(html).not.toContain('up to 18 decimals');
  });

  it('describes a valid control by its hint, and does not mark it invalid', () => {
    const html = renderToStaticMarkup(
      <Field label="Asset" hint="BTCR or a token you hold.">
        <Select name="asset" />
      </Field>,
    );
    const select = tags(html).find((t) => t.tag === 'select')!;
    const note = tags(html).find((t) => t.tag === 'p')!;
    expect(select.attrs['aria-invalid']).toBeUndefined();
    expect(select.attrs['aria-describedby']).toBe(note.attrs.id);
    expect(note.text).toBe('BTCR or a token you hold.');
  });

  it('gives a control without hint or error no description', () => {
    const input = tags(renderToStaticMarkup(<Field label="To"><Input /></Field>)).find((t) => t.tag === 'input')!;
    expect(input.attrs['aria-describedby']).toBeUndefined();
    expect(input.attrs['aria-invalid']).toBeUndefined();
  });

  it('gives each field its own id', () => {
    const html = renderToStaticMarkup(
      <>
        <Field label="Password"><Input /></Field>
        <Field label="Password again"><Input /></Field>
      </>,
    );
    const ids = tags(html).filter((t) => t.tag === 'input').map((t) => t.attrs.id);
    expect(new Set(ids).size).toBe(2);
  });
});

describe('Button', () => {
  it('does not submit forms unless asked, and is disabled and labelled while busy', () => {
    const idle = tags(renderToStaticMarkup(<Button>Send</Button>))[0];
    expect(idle.attrs.type).toBe('button');
    expect(idle.attrs.disabled).toBeUndefined();
    const busy = tags(renderToStaticMarkup(<Button type="submit" busy busyLabel="Sending…">Send</Button>))[0];
    expect(busy.attrs.type).toBe('submit');
    expect(busy.attrs.disabled).toBe('');
    expect(busy.attrs['aria-busy']).toBe('true');
    expect(busy.text).toBe('Sending…');
  });

  it('keeps the portal’s look for each variant', () => {
    expect(buttonClass('primary')).toContain('bg-sky-600 font-medium text-white');
    expect(buttonClass('primary')).toContain('px-4 py-2');
    expect(buttonClass('secondary')).toContain('border border-zinc-300');
    expect(buttonClass('secondary')).toContain('px-3 py-2');
    expect(buttonClass('secondary', 'sm')).toContain('rounded-md px-2 py-1 text-xs');
    expect(buttonClass('danger')).toContain('bg-red-600');
  });
});
