import { describe, expect, it } from 'vitest'
import { escapeHtml } from './html.ts'

describe('escapeHtml', () => {
  it('writes the characters markup reads as entities, and leaves the rest', () => {
    expect(escapeHtml(`<img src=x onerror="a('b')">&`)).toBe('&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;')
    expect(escapeHtml('BTC-USD 1.5 µs')).toBe('BTC-USD 1.5 µs')
  })
})
