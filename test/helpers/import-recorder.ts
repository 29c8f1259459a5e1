import { register } from 'node:module';

// Loaded with `node --import`: records every module URL the process resolves into $KH_IMPORT_LOG.
register('./import-hooks.js', import.meta.url);
