import { createI18n } from 'vue-i18n'
import { computed } from 'vue'

export const LOCALES = ['zh-CN', 'en-US'] as const
export type Locale = (typeof LOCALES)[number]
const STORAGE_KEY = 'kefu.locale'

type Tree = { [key: string]: string | Tree }

// locales/<locale>/<feature>.json; the file name is the first segment of every key.
const files = import.meta.glob<{ default: Tree }>('../locales/*/*.json', { eager: true })
const messages: Record<string, Tree> = {}
for (const [path, mod] of Object.entries(files)) {
  const m = /locales\/([^/]+)\/([^/]+)\.json$/.exec(path)
  if (!m) continue
  const [, locale, feature] = m
  messages[locale] ??= {}
  messages[locale][feature] = mod.default
}

function initialLocale(): Locale {
  const saved = localStorage.getItem(STORAGE_KEY)
  if (saved && (LOCALES as readonly string[]).includes(saved)) return saved as Locale
  const params = new URLSearchParams(location.search)
  const q = params.get('lang')
  if (q && (LOCALES as readonly string[]).includes(q)) return q as Locale
  return 'zh-CN'
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: false,
  messages,
  missingWarn: false,
  fallbackWarn: false,
  // Report every missing key in production builds too, so browser tests can catch them.
  missing: (locale: string, key: string) => {
    console.warn(`[intlify] Not found '${key}' key in '${locale}' locale messages.`)
    return key
  },
})

export const currentLocale = computed<Locale>(() => i18n.global.locale.value as Locale)

export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale
  localStorage.setItem(STORAGE_KEY, locale)
  document.documentElement.lang = locale
}

document.documentElement.lang = i18n.global.locale.value

const INPUT_PROBLEMS = ['too_long', 'too_many', 'empty', 'too_few']

/** A `bad_input` that names its field and limit (params.field, problem, max_chars/max_items/max_bytes). */
function inputText(params: Record<string, unknown>): string | null {
  const { t, te } = i18n.global
  if (typeof params.max_bytes === 'number') return t('errors.input.file_too_large', { mb: Math.round(params.max_bytes / 1024 / 1024) })
  if (typeof params.max_days === 'number') return t('errors.input.max_days', { max: params.max_days })
  const problem = String(params.problem ?? '')
  const name = String(params.field ?? '').replace(/\./g, '_')
  const fieldKey = `errors.input.fields.${name}`
  const field = name && te(fieldKey) ? t(fieldKey) : ''
  if (!INPUT_PROBLEMS.includes(problem)) return boundsText(name, field, params)
  return t(`errors.input.${problem}`, { field, max: params.max_chars ?? params.max_items ?? '' }).trim()
}

/** A refusal naming only its field's bounds (names, passwords, reception limits: domain/accounts.py). */
function boundsText(name: string, field: string, params: Record<string, unknown>): string | null {
  const { t } = i18n.global
  if (!field || typeof params.max !== 'number') return null
  if (name === 'password') return t('errors.input.length', { field, min: params.min ?? '', max: params.max })
  if (typeof params.min === 'number') return t('errors.input.range', { field, min: params.min, max: params.max })
  return t('errors.input.chars', { field, max: params.max })
}

/** Translate a server error code (errors.<code>), never its English message. */
export function errorText(code: string, params: Record<string, unknown> = {}): string {
  const { t, te } = i18n.global
  if (code === 'bad_input') {
    const detail = inputText(params)
    if (detail) return detail
  }
  const key = `errors.${code}`
  if (te(key)) return t(key, params as Record<string, unknown>)
  return t('errors.unknown', { code })
}
