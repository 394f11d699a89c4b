// Puts a server error on the form item it names (422 `field`), or shows it as a message.
import { ref, type Ref } from 'vue'
import { ApiError, fieldToProp } from '../lib/errors'
import { showError } from './notify'

export function useFieldErrors(props: readonly string[], aliases: Record<string, string> = {}) {
  const errors: Ref<Record<string, string>> = ref({})

  function clear(prop?: string) {
    if (prop) {
      if (errors.value[prop]) {
        const next = { ...errors.value }
        delete next[prop]
        errors.value = next
      }
    } else errors.value = {}
  }

  /** Shows `e`: always as a message, and on its form item when the server named a field. */
  function apply(e: unknown): string | null {
    showError(e)
    if (e instanceof ApiError) {
      const prop = fieldToProp(e.field, props, aliases)
      if (prop) {
        errors.value = { ...errors.value, [prop]: e.message }
        return prop
      }
    }
    return null
  }

  return { errors, clear, apply }
}
