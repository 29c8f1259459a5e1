import { FormatError } from './env-file.js';
import { deepFreeze, memoizeParse } from './parse-memo.js';

/**
 * The parts of systemd unit files that decide a service's command line: Environment=, EnvironmentFile=
 * and ExecStart= of the [Service] section. Read-only: the agent never edits unit files (that would need
 * a daemon-reload and fights the package manager).
 */

/** An Environment= assignment, with the unit file it came from. */
export interface UnitEnvironment {
  readonly name: string;
  readonly value: string;
  readonly file: string;
}

/** An EnvironmentFile= entry; `optional` when written with a leading `-`. */
export interface UnitEnvironmentFile {
  readonly path: string;
  readonly optional: boolean;
}

/** What one unit file contributes to the [Service] section. */
export interface UnitServiceSection {
  readonly environment: readonly UnitEnvironment[];
  readonly environmentFiles: readonly UnitEnvironmentFile[];
  /** ExecStart= values in order; an empty string resets the list (drop-in idiom). */
  readonly execStart: readonly string[];
}

/** Splits a unit-file value into words, honouring systemd's double and single quotes. */
export function splitUnitWords(value: string): string[] {
  const result: string[] = [];
  let current = '';
  let inWord = false;
  let quote: string | null = null;
  for (let i = 0; i < value.length; i++) {
    const char = value[i]!;
    if (quote) {
      if (char === quote) quote = null;
      else if (char === '\\' && quote === '"' && i + 1 < value.length) current += value[++i];
      else current += char;
      continue;
    }
    if (char === '"' || char === "'") {
      quote = char;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) result.push(current);
      current = '';
      inWord = false;
    } else if (char === '\\' && i + 1 < value.length) {
      current += value[++i];
      inWord = true;
    } else {
      current += char;
      inWord = true;
    }
  }
  if (quote) throw new FormatError('unterminated quote');
  if (inWord) result.push(current);
  return result;
}

/**
 * Parses the [Service] section of one unit file or drop-in. `file` is recorded on assignments.
 * Remembered by file and text: discovery and the kubelet view both read every unit on each reconcile,
 * and the units themselves almost never change. The result is frozen (shared between callers).
 */
export function parseUnitService(text: string, file: string): UnitServiceSection {
  return parseUnitMemo(`${file}\0${text}`);
}

const parseUnitMemo = memoizeParse((key: string): UnitServiceSection => {
  const split = key.indexOf('\0');
  return deepFreeze(parseUnitServiceText(key.slice(split + 1), key.slice(0, split)));
});

function parseUnitServiceText(text: string, file: string): UnitServiceSection {
  const environment: UnitEnvironment[] = [];
  const environmentFiles: UnitEnvironmentFile[] = [];
  const execStart: string[] = [];
  let section = '';
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const lineNo = index + 1;
    let line = lines[index]!.replace(/\r$/, '');
    while (line.endsWith('\\') && index + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++index]!.replace(/\r$/, '')}`;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(trimmed);
    if (header) {
      section = header[1]!;
      continue;
    }
    const eq = trimmed.indexOf('=');
    if (eq === -1) throw new FormatError('expected Key=Value', lineNo);
    if (section !== 'Service') continue;
    const key = trimmed.slice(0, eq).trim();
    const value = trimmed.slice(eq + 1).trim();
    try {
      if (key === 'Environment') {
        for (const word of splitUnitWords(value)) {
          const split = word.indexOf('=');
          if (split > 0) environment.push({ name: word.slice(0, split), value: word.slice(split + 1), file });
        }
      } else if (key === 'EnvironmentFile') {
        if (value === '') environmentFiles.length = 0;
        else for (const word of splitUnitWords(value)) environmentFiles.push({ path: word.replace(/^-/, ''), optional: word.startsWith('-') });
      } else if (key === 'ExecStart') execStart.push(value);
    } catch (error) {
      throw new FormatError(error instanceof Error ? error.message : String(error), lineNo);
    }
  }
  return { environment, environmentFiles, execStart };
}

/** The effective ExecStart after the base unit and its drop-ins (in order) are merged. */
export function mergeServiceSections(sections: readonly UnitServiceSection[]): UnitServiceSection {
  const environment: UnitEnvironment[] = [];
  const environmentFiles: UnitEnvironmentFile[] = [];
  let execStart: string[] = [];
  for (const section of sections) {
    environment.push(...section.environment);
    environmentFiles.push(...section.environmentFiles);
    for (const value of section.execStart) execStart = value === '' ? [] : [...execStart, value];
  }
  return { environment, environmentFiles, execStart };
}

/** A word of the expanded command line: literal, or taken from an environment variable. */
export interface ExpandedWord {
  readonly text: string;
  /** The variable the word came from (`$KUBELET_EXTRA_ARGS`), or null for literal text. */
  readonly variable: string | null;
}

/**
 * Expands an ExecStart value as systemd does: `$VAR` standing alone becomes the variable's value split
 * at whitespace (quotes inside are not interpreted); `${VAR}` inside a word is substituted as is.
 */
export function expandExecStart(execStart: string, lookup: (name: string) => string | undefined): ExpandedWord[] {
  const result: ExpandedWord[] = [];
  const command = execStart.replace(/^[-@:+!]+/, '');
  for (const word of splitUnitWords(command)) {
    const alone = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word) ?? /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(word);
    if (alone && word.startsWith('$') && !word.startsWith('${')) {
      const value = lookup(alone[1]!) ?? '';
      for (const part of value.split(/\s+/).filter(Boolean)) result.push({ text: part, variable: alone[1]! });
      continue;
    }
    let variable: string | null = null;
    const text = word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      variable = name;
      return lookup(name) ?? '';
    });
    if (text !== '') result.push({ text, variable });
  }
  return result;
}
