import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { setTabShop } from '@/common/http'
import type { Account, Shop } from '@/common/types'
import { authApi, type Feature, type LoginBody } from './api'

/** The staff session: who is logged in, in which shop. */
export const useSessionStore = defineStore('session', () => {
  const account = ref<Account | null>(null)
  const shop = ref<Shop | null>(null)
  const features = ref<Feature[]>([])

  const isSupervisor = computed(() => account.value?.role === 'supervisor' || account.value?.role === 'owner' || account.value?.role === 'leader')

  async function login(body: LoginBody): Promise<void> {
    setTabShop(body.shop_id) // ACCT-4: this tab now works for this shop
    const res = await authApi.login(body)
    account.value = res.account
    await load()
  }

  /** Load the current session; false when not logged in (asked without a 401, ACCT-4). */
  async function load(): Promise<boolean> {
    const res = await authApi.session()
    account.value = res.account
    shop.value = res.shop
    features.value = res.features
    return res.account !== null
  }

  /** ACCT-6: the owner has every feature area. */
  function has(feature: Feature): boolean {
    return features.value.includes(feature)
  }

  async function logout(): Promise<void> {
    try {
      await authApi.logout()
    } finally {
      account.value = null
      shop.value = null
      features.value = []
    }
  }

  function setAccount(a: Account): void {
    account.value = a
  }

  return { account, shop, features, isSupervisor, login, load, has, logout, setAccount }
})
