/**
 * Text for an HTML or SVG page, in an element or a quoted attribute: the characters markup reads
 * (`& < > " '`) as entities. The dashboard shows market strings with it, the benchmark reports
 * names and commands.
 */
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml (s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c] as string)
}
