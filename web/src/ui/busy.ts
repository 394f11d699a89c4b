// Runs a request with a loading/busy flag raised, reporting a failure (by default as a message).
import type { Ref } from 'vue'
import { showError } from './notify'

export async function withFlag(flag: Ref<boolean>, fn: () => Promise<unknown>, onError: (e: unknown) => unknown = showError): Promise<void> {
  flag.value = true
  try {
    await fn()
  } catch (e) {
    onError(e)
  } finally {
    flag.value = false
  }
}

/** Parses the JSON a user typed; a syntax error goes to `fail` as `JSON 格式错误：…` and gives null. */
export function parseJson(text: string, fail: (message: string) => void): { value: unknown } | null {
  try {
    return { value: JSON.parse(text) }
  } catch (e) {
    fail(`JSON 格式错误：${(e as Error).message}`)
    return null
  }
}
