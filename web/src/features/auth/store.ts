import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { ApiError } from '@/common/http'
import type { Account, Shop } from '@/common/types'
import { authApi, type LoginBody } from './api'

/** The staff session: who is logged in, in which shop. */
export const useSessionStore = defineStore('session', () => {
  const account = ref<Account | null>(null)
  const shop = ref<Shop | null>(null)

  const isSupervisor = computed(() => account.value?.role === 'supervisor' || account.value?.role === 'owner' || account.value?.role === 'leader')

  async function login(body: LoginBody): Promise<void> {
    const res = await authApi.login(body)
    account.value = res.account
    await load()
  }

  /** Load the current session; false when not logged in. */
  async function load(): Promise<boolean> {
    try {
      const res = await authApi.me()
      account.value = res.account
      shop.value = res.shop
      return true
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        account.value = null
        return false
      }
      throw e
    }
  }

  async function logout(): Promise<void> {
    try {
      await authApi.logout()
    } finally {
      account.value = null
      shop.value = null
    }
  }

  function setAccount(a: Account): void {
    account.value = a
  }

  return { account, shop, isSupervisor, login, load, logout, setAccount }
})
