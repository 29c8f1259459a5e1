/**
 * Kubelet-style command-line flags inside a string (an env variable's value) where systemd splits words
 * at whitespace and does not interpret quotes. Edits work on character spans, so everything the edit
 * does not touch (other flags, spacing) stays byte for byte.
 */

/** One flag occurrence: `--name=value`, `--name value` or a bare boolean `--name`. */
export interface FlagToken {
  readonly name: string;
  /** The value text; `true` for a bare boolean flag. */
  readonly value: string;
  /** Span of the whole occurrence (including a separate value word) in the source string. */
  readonly start: number;
  readonly end: number;
  /** Span of the value text, or null for a bare boolean flag. */
  readonly valueStart: number | null;
  readonly valueEnd: number | null;
}

/**
 * Kubelet flags that are booleans: for these `--flag next-word` does not consume the next word
 * (pflag NoOptDefVal). Kept to the flags of cmd/kubelet/app/options that are booleans.
 */
export const KUBELET_BOOLEAN_FLAGS: ReadonlySet<string> = new Set([
  'anonymous-auth',
  'authentication-token-webhook',
  'cgroups-per-qos',
  'enable-controller-attach-detach',
  'enable-debugging-handlers',
  'enable-load-reader',
  'enable-server',
  'exit-on-lock-contention',
  'fail-cgroupv1',
  'fail-swap-on',
  'kernel-memcg-notification',
  'keep-terminated-pod-volumes',
  'local-storage-capacity-isolation',
  'make-iptables-util-chains',
  'protect-kernel-defaults',
  'register-node',
  'register-schedulable',
  'rotate-certificates',
  'rotate-server-certificates',
  'runonce',
  'seccomp-default',
  'serialize-image-pulls',
  'alsologtostderr',
  'logtostderr',
  'help',
]);

interface Word {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

function words(source: string): Word[] {
  const result: Word[] = [];
  const pattern = /\S+/g;
  for (let match = pattern.exec(source); match; match = pattern.exec(source))
    result.push({ text: match[0], start: match.index, end: match.index + match[0].length });
  return result;
}

/** Result of tokenizing: the flags, plus words that are not flags (positional arguments). */
export interface FlagParse {
  readonly flags: readonly FlagToken[];
  readonly positional: readonly string[];
}

/** Splits a flag string the way systemd and pflag see it. */
export function parseFlags(source: string, booleanFlags: ReadonlySet<string> = KUBELET_BOOLEAN_FLAGS): FlagParse {
  const list = words(source);
  const flags: FlagToken[] = [];
  const positional: string[] = [];
  for (let index = 0; index < list.length; index++) {
    const word = list[index]!;
    const match = /^--?([A-Za-z0-9][A-Za-z0-9_.-]*)(=(.*))?$/.exec(word.text);
    if (!match) {
      positional.push(word.text);
      continue;
    }
    const name = match[1]!;
    if (match[2] !== undefined) {
      const valueStart = word.start + word.text.indexOf('=') + 1;
      flags.push({ name, value: match[3] ?? '', start: word.start, end: word.end, valueStart, valueEnd: word.end });
      continue;
    }
    const next = list[index + 1];
    if (!booleanFlags.has(name) && next && !next.text.startsWith('-')) {
      flags.push({ name, value: next.text, start: word.start, end: next.end, valueStart: next.start, valueEnd: next.end });
      index++;
    } else flags.push({ name, value: 'true', start: word.start, end: word.end, valueStart: null, valueEnd: null });
  }
  return { flags, positional };
}

/** Replaces the value of one occurrence, keeping its form (`=`, separate word, or bare boolean). */
export function replaceFlagValue(source: string, token: FlagToken, value: string): string {
  if (/\s/.test(value)) throw new Error(`flag --${token.name} value may not contain whitespace (systemd splits it)`);
  if (token.valueStart === null || token.valueEnd === null)
    return `${source.slice(0, token.start)}--${token.name}=${value}${source.slice(token.end)}`;
  return `${source.slice(0, token.valueStart)}${value}${source.slice(token.valueEnd)}`;
}

/** Removes one occurrence and the whitespace that separated it from its neighbour. */
export function removeFlag(source: string, token: FlagToken): string {
  let start = token.start;
  let end = token.end;
  // Prefer eating the whitespace before the flag; at the very start, eat the whitespace after it.
  while (start > 0 && /[ \t]/.test(source[start - 1]!)) start--;
  if (start === 0) while (end < source.length && /[ \t]/.test(source[end]!)) end++;
  return source.slice(0, start) + source.slice(end);
}

/** Appends `--name=value` with one space. */
export function appendFlag(source: string, name: string, value: string): string {
  if (/\s/.test(value)) throw new Error(`flag --${name} value may not contain whitespace (systemd splits it)`);
  const trimmed = source.replace(/[ \t]+$/, '');
  return `${trimmed}${trimmed.length > 0 ? ' ' : ''}--${name}=${value}${source.slice(trimmed.length)}`;
}
