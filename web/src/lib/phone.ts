// Phone numbers as the server accepts them (crates/core/src/values.rs `Phone::parse`).

/** Digits only, without separators and without a leading +86. */
export function normalizePhone(input: string): string {
  let s = input.replace(/[\s()-]/g, '')
  if (s.startsWith('+86')) s = s.slice(3)
  return s
}

/**
 * Whether the number is complete enough to look up the caller's history: an 11-digit mobile
 * (1[3-9]…), or a landline with its area code — 3-digit codes (010, 02x) take 8 digits (11 in
 * all), 4-digit codes take 7 or 8 (11 or 12 in all).
 */
export function isCompletePhone(input: string): boolean {
  const s = normalizePhone(input)
  if (!/^\d+$/.test(s)) return false
  if (/^1[3-9]/.test(s)) return s.length === 11
  if (/^0[12]\d/.test(s)) return s.length === 11
  if (/^0[3-9]\d{2}/.test(s)) return s.length === 11 || s.length === 12
  return false
}

/** Whether the server would accept it at all (for form validation). */
export function isValidPhone(input: string): boolean {
  const s = normalizePhone(input)
  if (!/^\d+$/.test(s)) return false
  if (/^1[3-9]/.test(s)) return s.length === 11
  if (s.startsWith('0')) return s.length >= 10 && s.length <= 12
  return s.length === 7 || s.length === 8
}
