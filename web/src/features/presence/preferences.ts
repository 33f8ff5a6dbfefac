import { defineStore } from 'pinia'
import { ref } from 'vue'
import { NOTIFY_EVENTS, presenceApi, type NotificationPreferences, type NotifyEvent } from './api'

/** SET-3: the account's own notification preferences; all on until loaded or changed. */
export const usePreferencesStore = defineStore('preferences', () => {
  const prefs = ref<NotificationPreferences>({ sound: true, desktop: true, events: [...NOTIFY_EVENTS] })
  const loaded = ref(false)

  async function load(): Promise<void> {
    prefs.value = await presenceApi.notificationPreferences()
    loaded.value = true
  }

  async function save(next: NotificationPreferences): Promise<void> {
    prefs.value = await presenceApi.setNotificationPreferences(next)
  }

  function wantsSound(event: NotifyEvent): boolean {
    return prefs.value.sound && prefs.value.events.includes(event)
  }

  function wantsDesktop(event: NotifyEvent): boolean {
    return prefs.value.desktop && prefs.value.events.includes(event)
  }

  return { prefs, loaded, load, save, wantsSound, wantsDesktop }
})
