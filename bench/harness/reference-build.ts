/**
 * The regression gate's reference build: another commit of this repository, extracted next to
 * the candidate (git archive, into the system's temporary folder, kept for reuse while its
 * dependencies resolve) and made runnable with the candidate's dependencies when its
 * package-lock.json is the same, or with its own `npm ci` when not. What cannot be prepared is
 * a ReferenceBuildError: the gate reports it as a failed comparison build, never as a regression.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { UsageError } from '../../lib/cli-options.ts'
import { brokerBundle, ROOT } from './processes.ts'

export class ReferenceBuildError extends Error {
  override name = 'ReferenceBuildError'
}

export interface ReferenceBuild {
  commit: string
  root: string
}

/** The commit the gate compares against, as committed in bench/ci-reference.json. */
/**
 * A module of another checkout of this repository (`root`, e.g. a worktree of the commit before),
 * `file` relative to it: how the micro benchmarks measure a reference beside this tree (`--root`).
 */
export async function importFromCheckout<T> (root: string, file: string): Promise<T> {
  return await import(pathToFileURL(path.join(root, file)).href) as T
}

export function committedReference (): string {
  const file = path.join(ROOT, 'bench/ci-reference.json')
  const config = JSON.parse(readFileSync(file, 'utf8')) as { commit?: unknown }
  if (typeof config.commit !== 'string' || config.commit === '') throw new UsageError(`${file}: "commit" must name a commit`)
  return config.commit
}

function git (args: string[]): string {
  return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()
}

/** Resolves `rev` to a full commit hash, or says in one line why it cannot. */
export function resolveCommit (rev: string): string {
  try {
    return git(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`])
  } catch {
    const shallow = existsSync(path.join(ROOT, '.git/shallow')) ? ' (this clone is shallow: git fetch --unshallow)' : ''
    throw new UsageError(`reference commit ${rev} is not in this repository${shallow}; name another with --reference, or move bench/ci-reference.json forward`)
  }
}

export function prepareReference (rev: string, progress: (line: string) => void): ReferenceBuild {
  const commit = resolveCommit(rev)
  const root = path.join(os.tmpdir(), `tickfan-reference-${commit}`)
  // An extraction is reused only while its dependencies are there: its node_modules may be a
  // link into the checkout that made it, since deleted (a clone in a temporary folder).
  if (!existsSync(path.join(root, '.complete')) || !existsSync(path.join(root, 'node_modules'))) {
    progress(`extracting reference ${commit.slice(0, 10)} into ${root}`)
    const partial = `${root}.partial-${process.pid}`
    rmSync(partial, { recursive: true, force: true })
    mkdirSync(partial, { recursive: true })
    const archive = spawnSync('sh', ['-c', `git archive ${commit} | tar -x -C "${partial}"`], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
    if (archive.status !== 0) throw new ReferenceBuildError(`reference ${commit.slice(0, 10)}: git archive failed: ${archive.stderr.toString().trim()}`)
    const sameLock = readFileSync(path.join(partial, 'package-lock.json'), 'utf8') === readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')
    if (sameLock) {
      symlinkSync(path.join(ROOT, 'node_modules'), path.join(partial, 'node_modules'))
    } else {
      progress(`reference ${commit.slice(0, 10)} has other dependencies: npm ci there`)
      const install = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: partial, stdio: ['ignore', 'ignore', 'pipe'] })
      if (install.status !== 0) throw new ReferenceBuildError(`reference ${commit.slice(0, 10)}: npm ci failed: ${install.stderr.toString().trim().split('\n').slice(-3).join(' ')}`)
    }
    execFileSync('touch', [path.join(partial, '.complete')])
    rmSync(root, { recursive: true, force: true })
    renameSync(partial, root)
  }
  // The build must at least start: its broker, bundled as the gate runs it, answers --help.
  let bundle: string
  try {
    bundle = brokerBundle(root)
  } catch (err) {
    throw new ReferenceBuildError(`reference ${commit.slice(0, 10)}: its broker does not build: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`)
  }
  const check = spawnSync(process.execPath, [bundle, '--help'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 })
  if (check.status !== 0) throw new ReferenceBuildError(`reference ${commit.slice(0, 10)}: its broker does not start: ${check.stderr.toString().trim().split('\n').slice(-2).join(' ')}`)
  return { commit, root }
}
