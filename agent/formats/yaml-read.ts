import type { Document } from 'yaml';
import { FormatError } from './env-file.js';

/**
 * A parsed YAML document as plain values, for reading. Conversion failures (an alias bomb past the
 * yaml package's alias limit, nesting deeper than the stack) become a FormatError, which callers
 * report with the file's name, like any other unreadable input.
 */
export function plainValue(doc: Document): unknown {
  try {
    return doc.toJS();
  } catch (error) {
    const why = error instanceof RangeError ? 'nested too deeply' : error instanceof Error ? error.message : String(error);
    throw new FormatError(why);
  }
}

/**
 * A YAML parse error as one line for the operator: the yaml package's message without the position
 * and code frame it appends (callers name the file and line themselves) and without its advice to the
 * programmer (`please use YAML.parseAllDocuments()`).
 */
export function yamlErrorText(error: { readonly message: string }): string {
  const first = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
  if (first.startsWith('Source contains multiple documents')) return 'several YAML documents (---) where one is expected';
  return first || 'invalid YAML';
}
