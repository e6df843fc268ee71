import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const LAYERS = ['lib', 'broker', 'feeds', 'traders', 'dashboard']

function productLayers () {
  return LAYERS.map((layer, i) => ({
    files: [`${layer}/**/*.ts`],
    ignores: ['**/*.test.ts', '**/test-support/**', '**/fuzz-properties.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/bench/**', '**/test-support/**'], message: 'product code may not import bench/ or test-support/; move what it needs to lib/' },
          ...LAYERS.slice(i + 1).map((above) => ({
            group: [`**/${above}/**`],
            message: `${layer}/ sits below ${above}/ (lib < broker < feeds < traders < dashboard) and may not import it; move what both need down`
          }))
        ]
      }]
    }
  }))
}

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'reports/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      // 120 columns; a string, template or regular expression is never split to fit.
      'max-len': ['error', { code: 120, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }]
    }
  },
  // Layers, bottom up: lib/ < broker/ < feeds/ < traders/ < dashboard/, then bench/ on top. A folder
  // imports only the layers below it; what the product runs never depends on bench/ or test support.
  ...productLayers()
)
