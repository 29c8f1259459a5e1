import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // Pure modules must not reach the host: decisions and IO stay apart (DESIGN §2).
      'no-restricted-imports': 'off',
    },
  },
  {
    files: ['agent/core/**/*.ts', 'agent/rules/**/*.ts', 'agent/formats/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'child_process', 'node:child_process', 'execa', '@kubernetes/client-node'],
          patterns: ['**/host/*', '**/node/*', '**/session/*', '**/cli/*', '**/cluster/*', '**/daemon/*'],
        },
      ],
    },
  },
);
