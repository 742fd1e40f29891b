// ESLint flat config. The import restrictions enforce the architecture's one-way arrows:
// core ← engine ← extension/cli, and the webview sees only core.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'fs',
  'path',
  'os',
  'crypto',
  'child_process',
  'worker_threads',
  'util',
  'stream',
  'url',
  'buffer',
  'events',
];
const noNode = [
  { group: ['node:*'], message: 'src/core is pure: no Node APIs (it also runs in the webview).' },
  ...nodeBuiltins.map((name) => ({ group: [name, `${name}/*`], message: 'src/core is pure: no Node APIs.' })),
];

export default tseslint.config(
  {
    ignores: ['node_modules/', 'dist/', 'out/', '.test-artifacts/', 'fixtures/**/*.js', 'python/', '**/*.d.ts'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'vscode', message: 'src/core is pure: no vscode.' },
            { name: 'onnxruntime-node', message: 'src/core is pure: no onnxruntime.' },
          ],
          patterns: [
            ...noNode,
            { group: ['**/engine/**', '**/extension/**', '**/cli/**'], message: 'core imports nothing above it.' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'Buffer', message: 'src/core is pure: use Uint8Array.' },
        { name: 'process', message: 'src/core is pure.' },
      ],
    },
  },
  {
    files: ['src/engine/**/*.ts', 'src/sim/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', message: 'engine is Node-only: no vscode.' }],
          patterns: [
            { group: ['**/extension/**', '**/cli/**'], message: 'engine does not import the extension or the CLI.' },
          ],
        },
      ],
    },
  },
  {
    files: ['webview/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', message: 'the webview talks to the host through the protocol only.' }],
          patterns: [
            ...noNode,
            { group: ['**/engine/**', '**/extension/**', '**/cli/**'], message: 'the webview imports only src/core.' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js', 'bin/**'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        require: 'readonly',
        __dirname: 'readonly',
        module: 'writable',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
