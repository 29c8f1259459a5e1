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
