import type { ServerError } from './types'

/** An HTTP refusal, carrying the server's stable error code (see docs/protocol.md). */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly params: Record<string, unknown>

  constructor(status: number, body: Partial<ServerError> | null) {
    super(body?.message ?? `HTTP ${status}`)
    this.status = status
    this.code = body?.code ?? (status === 0 ? 'network' : 'unknown')
    this.params = body?.params ?? {}
  }
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

const TAB_SHOP_KEY = 'kefu.shop'

/** ACCT-4: the shop this tab works for (`?shop=` in the address, else this tab's last login);
 * the server then reads this shop's session cookie, so tabs of several shops coexist. */
export function tabShop(): number | null {
  const fromUrl = Number(new URLSearchParams(location.search).get('shop'))
  if (Number.isInteger(fromUrl) && fromUrl > 0) {
    setTabShop(fromUrl)
    return fromUrl
  }
  try {
    const stored = Number(sessionStorage.getItem(TAB_SHOP_KEY))
    return Number.isInteger(stored) && stored > 0 ? stored : null
  } catch {
    return null
  }
}

export function setTabShop(id: number | null): void {
  try {
    if (id === null) sessionStorage.removeItem(TAB_SHOP_KEY)
    else sessionStorage.setItem(TAB_SHOP_KEY, String(id))
  } catch {
    // storage may be unavailable (private mode): the last login's cookie is used
  }
}

function shopHeader(): Record<string, string> {
  const shop = tabShop()
  return shop === null ? {} : { 'X-Kefu-Shop': String(shop) }
}

export async function request<T>(method: Method, path: string, body?: unknown): Promise<T> {
  let res: Response
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: { ...shopHeader(), ...(body === undefined ? { Accept: 'application/json' } : { 'Content-Type': 'application/json', Accept: 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch {
    throw new ApiError(0, null)
  }
  const text = await res.text()
  let data: unknown = null
  if (text) {
    try {
      data = JSON.parse(text)
    } catch {
      data = null
    }
  }
  if (!res.ok) {
    const err = (data && typeof data === 'object' ? data : null) as Partial<ServerError> | null
    // FastAPI's default 404 body is {"detail": "Not Found"}: map it onto our model.
    throw new ApiError(res.status, err && 'code' in err ? err : { code: res.status === 404 ? 'not_found' : undefined })
  }
  return data as T
}

function parseBody(text: string): unknown {
  if (!text) return null
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

/** A multipart upload reporting progress (0–1); fetch cannot report upload progress, XHR can. */
export function upload<T>(path: string, form: FormData, onProgress?: (fraction: number) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', path)
    xhr.withCredentials = true
    xhr.setRequestHeader('Accept', 'application/json')
    for (const [name, value] of Object.entries(shopHeader())) xhr.setRequestHeader(name, value)
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable && onProgress) onProgress(ev.loaded / ev.total)
    }
    xhr.onerror = () => reject(new ApiError(0, null))
    xhr.onload = () => {
      const data = parseBody(xhr.responseText)
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress?.(1)
        resolve(data as T)
        return
      }
      const err = (data && typeof data === 'object' ? data : null) as Partial<ServerError> | null
      let fallback: string | undefined
      if (xhr.status === 404) fallback = 'not_found'
      else if (xhr.status === 413) fallback = 'bad_input'
      reject(new ApiError(xhr.status, err && 'code' in err ? err : { code: fallback }))
    }
    xhr.send(form)
  })
}

/** A file sent as the request body itself (not multipart), e.g. the catalog import (API-1). */
export async function postFile<T>(path: string, file: Blob, contentType: string): Promise<T> {
  let res: Response
  try {
    res = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { ...shopHeader(), 'Content-Type': contentType, Accept: 'application/json' },
      body: file,
    })
  } catch {
    throw new ApiError(0, null)
  }
  const data = parseBody(await res.text())
  if (!res.ok) {
    const err = (data && typeof data === 'object' ? data : null) as Partial<ServerError> | null
    throw new ApiError(res.status, err && 'code' in err ? err : { code: res.status === 413 ? 'too_large' : undefined })
  }
  return data as T
}

export const http = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {}),
  put: <T>(path: string, body?: unknown) => request<T>('PUT', path, body ?? {}),
  del: <T>(path: string) => request<T>('DELETE', path),
  patch: <T>(path: string, body?: unknown) => request<T>('PATCH', path, body ?? {}),
}

/** A query string from the defined, non-empty values. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}
