/**
 * Subject classes decide what the broker does beyond plain NATS for a subject:
 * - `last-value`: the newest message per subject is cached (snapshot on subscribe) and a slow
 *   subscriber's pending copies are conflated to the newest;
 * - `event`: never conflated (trades): queued in order up to a byte limit, then the slow
 *   consumer is disconnected;
 * - `plain`: NATS semantics; queued in order like events.
 */
import { isSubsetMatch, isValidSubject, subjectMatches } from './subjects.ts'

export const SubjectClass = {
  LastValue: 'last-value',
  Event: 'event',
  Plain: 'plain'
} as const
export type SubjectClass = typeof SubjectClass[keyof typeof SubjectClass]

export interface SubjectClassRules {
  /** Patterns whose subjects are last-value. Default `quote.>`, `bbo.>`. */
  lastValue: readonly string[]
  /** Patterns whose subjects are events. Default `trade.>`. */
  event: readonly string[]
}

export const DEFAULT_SUBJECT_CLASSES: SubjectClassRules = {
  lastValue: ['quote.>', 'bbo.>'],
  event: ['trade.>']
}

const MAX_CACHED = 65536

export class SubjectClassifier {
  private readonly cache = new Map<string, SubjectClass>()

  constructor (private readonly rules: SubjectClassRules = DEFAULT_SUBJECT_CLASSES) {
    for (const pattern of [...rules.lastValue, ...rules.event]) {
      if (!isValidSubject(pattern)) throw new TypeError(`subject class pattern ${JSON.stringify(pattern)} is not a valid subject`)
    }
  }

  /** Can a subscription to `pattern` (wildcards allowed) only ever receive last-value subjects? */
  onlyLastValue (pattern: string): boolean {
    return this.rules.lastValue.some((p) => isSubsetMatch(pattern, p))
  }

  classify (subject: string): SubjectClass {
    const cached = this.cache.get(subject)
    if (cached !== undefined) return cached
    let result: SubjectClass = SubjectClass.Plain
    if (this.rules.lastValue.some((p) => subjectMatches(p, subject))) result = SubjectClass.LastValue
    else if (this.rules.event.some((p) => subjectMatches(p, subject))) result = SubjectClass.Event
    if (this.cache.size >= MAX_CACHED) this.cache.clear()
    this.cache.set(subject, result)
    return result
  }
}
