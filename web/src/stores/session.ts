import { defineStore } from 'pinia'
import { http } from '../api/http'
import type { Me } from '../api/types'
import { ApiError } from '../lib/errors'

export const useSession = defineStore('session', {
  state: () => ({
    me: null as Me | null,
    /** Whether `/api/auth/me` has been asked once (so guards know if "no user" is final). */
    checked: false,
  }),
  getters: {
    roles: (s): string[] => s.me?.roles ?? [],
    loggedIn: (s): boolean => s.me !== null,
  },
  actions: {
    hasRole(...roles: string[]): boolean {
      return roles.some((r) => this.me?.roles.includes(r))
    },
    async load(): Promise<Me | null> {
      try {
        this.me = await http.get<Me>('/api/auth/me', undefined, { quiet401: true })
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 401) throw e
        this.me = null
      } finally {
        this.checked = true
      }
      return this.me
    },
    async login(username: string, password: string): Promise<Me> {
      const me = await http.post<Me>('/api/auth/login', { username, password }, { quiet401: true })
      this.me = me
      this.checked = true
      return me
    },
    async logout(): Promise<void> {
      try {
        await http.post('/api/auth/logout', undefined, { quiet401: true })
      } finally {
        this.me = null
      }
    },
  },
})
