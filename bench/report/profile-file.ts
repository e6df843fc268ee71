/**
 * Reads a V8 CPU profile (`node --cpu-prof`) from disk with its frames moved to their sources
 * where a source map lies beside the file a frame names: a broker run from its bundle
 * (`dist/broker.mjs` and `dist/broker.mjs.map`, broker/bundle.ts) then shows `broker/router.ts`
 * and its lines, as the sources run through tsx did.
 */
import { existsSync, readFileSync } from 'node:fs'
import { SourceMap } from 'node:module'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { withSources, type CpuProfile } from './profile.ts'

export function readCpuProfile (file: string): CpuProfile {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const maps = new Map<string, { map: SourceMap, dir: string } | null>()
  return withSources(profile, (url, line, column) => {
    let entry = maps.get(url)
    if (entry === undefined) {
      entry = null
      const mapFile = url.startsWith('file://') ? `${fileURLToPath(url)}.map` : ''
      if (mapFile !== '' && existsSync(mapFile)) {
        entry = { map: new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8'))), dir: path.dirname(mapFile) }
      }
      maps.set(url, entry)
    }
    if (entry === null) return null
    // An empty object where the map has no entry at or before the position.
    const found = entry.map.findEntry(line, column) as { originalSource?: string, originalLine?: number }
    if (found.originalSource === undefined || found.originalLine === undefined) return null
    return { url: pathToFileURL(path.resolve(entry.dir, found.originalSource)).href, line: found.originalLine }
  })
}
