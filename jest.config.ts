/** @jest-config-loader-options {"transpileOnly": true, "compilerOptions": {"module": "CommonJS", "moduleResolution": "node10"}} */
import type { Config } from 'jest';

// Tests run from TypeScript sources: ts-jest transpiles only (isolatedModules); `tsc -b` and
// `tsc -p tsconfig.check.json` do the type-checking. inversify 8 ships ESM only, so its
// .js files go through ts-jest too, into CommonJS.
const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages'],
  testMatch: ['**/src/**/*.spec.ts', '**/test/**/*.spec.ts'],
  setupFiles: ['<rootDir>/packages/testing/src/jest-setup.ts'],
  moduleNameMapper: {
    '^@ipilab/([a-z0-9-]+)$': '<rootDir>/packages/$1/src/index.ts',
  },
  transform: {
    '^.+\\.[tj]s$': [
      'ts-jest',
      {
        tsconfig: {
          target: 'ES2022',
          module: 'commonjs',
          moduleResolution: 'node10',
          isolatedModules: true,
          allowJs: true,
          esModuleInterop: true,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          sourceMap: true,
        },
      },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!\\.pnpm/(inversify|@inversifyjs)|inversify|@inversifyjs)'],
  modulePathIgnorePatterns: ['<rootDir>/packages/[^/]+/dist/'],
};

export default config;
