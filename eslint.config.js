// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // examples/ are the apps users deploy (plain JS and Python), not jetsaga's code.
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.scratch/**', 'examples/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      'no-console': 'error',
    },
  },
  {
    // Machines are replayed: no I/O, no clock, no randomness (DESIGN §2 "Determinism").
    files: ['machines/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(?!xstate$|\\./|\\.\\./).*', message: 'machines/ may import only xstate and its own files' }] }],
      'no-restricted-globals': ['error', 'Date', 'process', 'setTimeout', 'setInterval', 'fetch', 'crypto'],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'use data from the journal' }],
    },
  },
  {
    // The page runs in the browser: typed by tsconfig.web.json (DOM, no Node), which
    // tsconfig.json (the project service's default) leaves out.
    files: ['src/ui/web/**/*.ts'],
    languageOptions: { parserOptions: { projectService: false, project: './tsconfig.web.json', tsconfigRootDir: import.meta.dirname } },
  },
  {
    files: ['src/cli/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts', 'scripts/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
);
