import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'reports/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }]
    }
  },
  {
    // What the product runs never depends on the benchmark or on test support; shared pieces live in lib/.
    files: ['lib/**/*.ts', 'broker/**/*.ts', 'feeds/**/*.ts', 'traders/**/*.ts', 'dashboard/**/*.ts'],
    ignores: ['**/*.test.ts', '**/test-support/**', '**/fuzz-properties.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/bench/**', '**/test-support/**'], message: 'product code may not import bench/ or test-support/; move what it needs to lib/' }] }]
    }
  }
)
