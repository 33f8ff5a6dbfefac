/**
 * Addresses from consumers' pages become links only when they are absolute http(s) URLs;
 * anything else (`javascript:`, `data:`, `//host/…`) is shown as text.
 */
export function safeHref(value: string | null | undefined): string | null {
  if (!value) return null
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && /^https?:\/\//i.test(value) ? url.href : null
  } catch {
    return null
  }
}

/**
 * A link a shop's page hands to the widget, made absolute against that page; null unless it
 * is then an http(s) URL (the server takes no other kind).
 */
export function absoluteLink(value: unknown, base: string): string | null {
  if (typeof value !== 'string' || !value) return null
  try {
    const url = new URL(value, base || undefined)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href.slice(0, 500) : null
  } catch {
    return null
  }
}
