/**
 * The broker as it ships: `broker/main.ts` and everything it imports bundled by esbuild into one
 * ES module, `dist/broker.mjs`, which `npm run broker` runs (`npm run build` makes it with the
 * same options, BUNDLE_FLAGS). The benchmarks run this bundle too (bench/harness/processes.ts),
 * not the sources through tsx: the same code loaded through tsx's hooks ran 8-13% slower per
 * message (reports/broker/bundle.md).
 */
import { buildSync } from 'esbuild'
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'

/** esbuild's options for the broker's bundle, as `npm run build` passes them on its command line. */
export const BUNDLE_FLAGS: readonly string[] = ['--bundle', '--platform=node', '--format=esm', '--target=node20', '--packages=external', '--sourcemap']

/** The bundle's path for a checkout at `root`. */
export function bundlePath (root: string): string {
  return path.join(root, 'dist/broker.mjs')
}

/** Bundles the broker of the checkout at `root` into bundlePath(root), and returns that path. */
export function bundleCheckout (root: string): string {
  return bundleBroker(path.join(root, 'broker/main.ts'), bundlePath(root))
}

/**
 * The node flags that load `script`: none for a bundle (an `.mjs` such as `dist/broker.mjs`),
 * tsx for the TypeScript sources. Where the project starts its parts as child processes.
 */
export function loaderFlags (script: string): string[] {
  return script.endsWith('.mjs') ? [] : ['--import', 'tsx']
}

/**
 * Bundles `entry` (a checkout's `broker/main.ts`, or another entry such as the floor relay's)
 * into `outfile` and returns `outfile`. Written to a temporary file and renamed into place, so
 * a process starting from `outfile` while another builds it never reads half a file. Throws
 * with esbuild's messages when the sources do not build.
 */
export function bundleBroker (entry: string, outfile: string): string {
  const result = buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    // dist/broker.mjs.map beside it: profiles name the sources (bench/report/profile-file.ts),
    // and `node --enable-source-maps` stack traces too.
    sourcemap: true,
    write: false,
    outfile,
    logLevel: 'silent'
  })
  const code = result.outputFiles.find((f) => f.path === path.resolve(outfile))
  if (code === undefined) throw new Error(`esbuild wrote nothing for ${entry}`)
  mkdirSync(path.dirname(outfile), { recursive: true })
  // The map first: the bundle names it, and a process may start from the bundle at once.
  for (const file of [...result.outputFiles.filter((f) => f !== code), code]) {
    const partial = `${file.path}.${process.pid}.partial`
    writeFileSync(partial, file.contents)
    renameSync(partial, file.path)
  }
  return outfile
}
