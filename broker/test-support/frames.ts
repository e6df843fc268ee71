/** Decodes what the broker writes (MSG, HMSG, control lines) for assertions in tests. */
export interface Frame {
  op: string
  subject?: string
  sid?: string
  reply?: string
  headers?: string
  payload?: string
}

export function decodeFrames (input: Buffer | string): Frame[] {
  const text = typeof input === 'string' ? input : input.toString('latin1')
  const frames: Frame[] = []
  let pos = 0
  while (pos < text.length) {
    const eol = text.indexOf('\r\n', pos)
    if (eol === -1) break
    const line = text.slice(pos, eol)
    const args = line.split(' ')
    const op = args[0] as string
    pos = eol + 2
    if (op === 'MSG' || op === 'HMSG') {
      const total = Number(args[args.length - 1])
      const headerBytes = op === 'HMSG' ? Number(args[args.length - 2]) : 0
      const fixed = op === 'HMSG' ? 5 : 4
      if (pos + total + 2 > text.length) break
      const body = text.slice(pos, pos + total)
      frames.push({
        op,
        subject: args[1],
        sid: args[2],
        reply: args.length > fixed ? args[3] : undefined,
        headers: headerBytes > 0 ? body.slice(0, headerBytes) : undefined,
        payload: body.slice(headerBytes)
      })
      pos += total + 2
    } else {
      frames.push({ op: line })
    }
  }
  return frames
}

/** The value of a header in a decoded frame, or undefined. */
export function headerValue (frame: Frame, name: string): string | undefined {
  const match = frame.headers?.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
  return match?.slice(match.indexOf(':') + 1).trim()
}
