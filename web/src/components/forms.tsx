// Form controls in the portal's one look: buttons, text inputs, selects, text areas, and the
// labelled field that ties a control to its hint and its error for assistive technology.
// No Radix here (unlike controls.tsx), so the header's search and theme switch can use them
// without loading the dialog and tab code on every page.
import {
  type ButtonHTMLAttributes,
  createContext,
  type InputHTMLAttributes,
  type ReactNode,
  type SelectHTMLAttributes,
  type TextareaHTMLAttributes,
  useContext,
  useId,
} from 'react';

export type ButtonVariant = 'primary' | 'secondary' | 'danger' | 'ghost';
/** `sm` sits inside tables and the header; `md` ends a form; `icon` holds one glyph. */
export type ButtonSize = 'sm' | 'md' | 'icon';

const buttonVariants: Record<ButtonVariant, string> = {
  primary: 'bg-sky-600 font-medium text-white hover:bg-sky-700',
  secondary: 'border border-zinc-300 dark:border-zinc-700',
  danger: 'bg-red-600 font-medium text-white hover:bg-red-700',
  ghost: 'text-zinc-500 hover:text-zinc-900 dark:hover:text-zinc-100',
};

/** The classes of a button; filled ones take a little more room on the sides at `md`, as
 * their edge is their colour rather than a border. */
export function buttonClass(variant: ButtonVariant = 'secondary', size: ButtonSize = 'md'): string {
  const filled = variant === 'primary' || variant === 'danger';
  const sizes: Record<ButtonSize, string> = {
    sm: 'rounded-md px-2 py-1 text-xs',
    md: `rounded-lg ${filled ? 'px-4' : 'px-3'} py-2 text-sm`,
    icon: 'rounded-md px-2 text-lg leading-none',
  };
  return `${sizes[size]} ${buttonVariants[variant]} disabled:cursor-not-allowed disabled:opacity-50`;
}

const join = (...classes: (string | false | undefined)[]) => classes.filter(Boolean).join(' ');

export interface ButtonProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  variant?: ButtonVariant;
  size?: ButtonSize;
  /** While true the button is disabled, says so to assistive technology (`aria-busy`) and
   * shows `busyLabel` in place of its children. */
  busy?: boolean;
  busyLabel?: ReactNode;
}

/** A button; `type` is `button` unless given, so only the buttons meant to submit a form do. */
export function Button({ variant, size, busy = false, busyLabel, className, disabled, type = 'button', children, ...rest }: ButtonProps) {
  return (
    <button
      {...rest}
      type={type}
      disabled={disabled || busy}
      aria-busy={busy || undefined}
      className={join(buttonClass(variant, size), className)}
    >
      {busy && busyLabel !== undefined ? busyLabel : children}
    </button>
  );
}

/** `sm` fits beside a small button in a table; `md` sits on the header's surface; `lg` is a
 * form's field, set into its card. */
export type InputSize = 'sm' | 'md' | 'lg';

const inputSizes: Record<InputSize, string> = {
  sm: 'rounded-md px-2 py-1 text-xs dark:bg-zinc-950',
  md: 'w-full rounded-lg px-3 py-1.5 text-sm dark:bg-zinc-900',
  lg: 'w-full rounded-lg px-3 py-2 text-sm dark:bg-zinc-950',
};

/** The classes of a text input, select or text area. */
export function inputClass(size: InputSize = 'lg'): string {
  return `${inputSizes[size]} border border-zinc-300 bg-white outline-none focus:border-sky-500 dark:border-zinc-700`;
}

/** What a Field tells the control inside it: its id, and the ids of its hint and error. */
interface FieldWiring {
  id: string;
  describedBy: string | undefined;
  invalid: boolean;
}

const FieldContext = createContext<FieldWiring | null>(null);

/** The attributes that tie a control to the Field around it; those given to the control
 * itself win. */
function useFieldWiring(props: { id?: string; 'aria-describedby'?: string; 'aria-invalid'?: boolean | 'true' | 'false' | 'grammar' | 'spelling' }) {
  const field = useContext(FieldContext);
  return {
    id: props.id ?? field?.id,
    'aria-describedby': props['aria-describedby'] ?? field?.describedBy,
    'aria-invalid': props['aria-invalid'] ?? (field?.invalid || undefined),
  };
}

export interface InputProps extends Omit<InputHTMLAttributes<HTMLInputElement>, 'size'> {
  size?: InputSize;
  mono?: boolean;
}

/** A text (or password, or file) input; inside a Field it is labelled and described by it. */
export function Input({ size, mono, className, ...rest }: InputProps) {
  return <input {...rest} {...useFieldWiring(rest)} className={join(inputClass(size), mono && 'font-mono', className)} />;
}

export interface SelectProps extends Omit<SelectHTMLAttributes<HTMLSelectElement>, 'size'> {
  size?: InputSize;
}

export function Select({ size, className, ...rest }: SelectProps) {
  return <select {...rest} {...useFieldWiring(rest)} className={join(inputClass(size), className)} />;
}

export interface TextareaProps extends TextareaHTMLAttributes<HTMLTextAreaElement> {
  mono?: boolean;
}

export function Textarea({ mono, className, ...rest }: TextareaProps) {
  return <textarea {...rest} {...useFieldWiring(rest)} className={join(inputClass('lg'), mono && 'font-mono', className)} />;
}

/** A labelled control: the label, the control (an Input, Select or Textarea given as the
 * child), then a hint or, when there is one, the error. The error replaces the hint, marks
 * the control `aria-invalid`, and is what `aria-describedby` points the control at. */
export function Field({ label, hint, error, children }: { label: ReactNode; hint?: ReactNode; error?: ReactNode; children: ReactNode }) {
  const id = useId();
  const noteId = `${id}-note`;
  const note = error || hint;
  return (
    <div className="text-sm">
      <label htmlFor={id} className="block">
        <span className="text-zinc-600 dark:text-zinc-400">{label}</span>
      </label>
      <FieldContext.Provider value={{ id, describedBy: note ? noteId : undefined, invalid: !!error }}>{children}</FieldContext.Provider>
      {error ? (
        <p id={noteId} className="mt-1 text-xs text-amber-700 dark:text-amber-400">
          {error}
        </p>
      ) : (
        hint && (
          <p id={noteId} className="mt-1 text-xs text-zinc-500">
            {hint}
          </p>
        )
      )}
    </div>
  );
}
