/**
 * Reading JSON messages off the wire, in Node and in the browser. Anyone who may publish on a
 * subject may publish anything there, so a consumer checks a message's shape before it keeps or
 * shows it: a field that is missing or of another type is refused with a reason, never read later
 * (where it would throw, in a render or a timer, long after the message).
 */

export type ParsedJson = { ok: true, value: unknown } | { ok: false, reason: string }

const utf8 = new TextDecoder()

export function parseJson (data: Uint8Array): ParsedJson {
  try {
    return { ok: true, value: JSON.parse(utf8.decode(data)) }
  } catch {
    return { ok: false, reason: 'not JSON' }
  }
}

/** A field's expected type; `number` is a finite number, `object` a non-null object. */
export type FieldType = 'number' | 'string' | 'object'

/**
 * The first field of `fields` that `value` lacks or holds with another type, in words; null when
 * each is there. A dotted name (`latencyUs.p99`) reads into a nested object.
 */
export function fieldProblem (value: unknown, fields: Readonly<Record<string, FieldType>>): string | null {
  if (!isObject(value)) return 'not an object'
  for (const [name, type] of Object.entries(fields)) {
    let v: unknown = value
    for (const key of name.split('.')) v = isObject(v) ? v[key] : undefined
    const ok = type === 'number' ? typeof v === 'number' && Number.isFinite(v) : type === 'object' ? isObject(v) : typeof v === type
    if (!ok) return `field ${name} is not ${type === 'object' ? 'an object' : `a ${type}`}`
  }
  return null
}

/**
 * A JSON message of the shape `fields` describes: parsed, its fields checked, then typed as `T`
 * (whose fields `fields` lists, the ones a consumer reads); or why not.
 */
export function parseMessage<T> (
  data: Uint8Array,
  fields: Readonly<Record<string, FieldType>>
): { ok: true, value: T } | { ok: false, reason: string } {
  const json = parseJson(data)
  if (!json.ok) return json
  const problem = fieldProblem(json.value, fields)
  return problem === null ? { ok: true, value: json.value as T } : { ok: false, reason: problem }
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null
}
