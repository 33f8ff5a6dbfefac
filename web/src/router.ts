import { createRouter, createWebHistory } from 'vue-router'

export const router = createRouter({
  history: createWebHistory('/'),
  routes: [
    { path: '/', name: 'landing', component: () => import('./features/landing/pages/LandingPage.vue') },
    { path: '/login', name: 'login', component: () => import('./features/auth/pages/LoginPage.vue') },
    { path: '/workbench', name: 'workbench', component: () => import('./features/workbench/pages/WorkbenchPage.vue') },
    { path: '/widget', name: 'widget', component: () => import('./features/widget/pages/WidgetPage.vue') },
    { path: '/demo/shop', name: 'demo-shop', component: () => import('./features/demo-shop/pages/DemoShopPage.vue') },
    {
      path: '/settings',
      name: 'settings',
      component: () => import('./features/settings/pages/SettingsPage.vue'),
      children: [
        { path: 'bot', name: 'settings-bot', component: () => import('./features/settings/pages/BotPage.vue') },
        { path: 'kb', name: 'settings-kb', component: () => import('./features/settings/pages/KnowledgePage.vue') },
        { path: 'entry', name: 'settings-entry', component: () => import('./features/settings/pages/EntryPage.vue') },
        { path: 'greetings', name: 'settings-greetings', component: () => import('./features/settings/pages/GreetingsPage.vue') },
        { path: 'reception', name: 'settings-reception', component: () => import('./features/settings/pages/ReceptionPage.vue') },
        { path: 'staff', name: 'settings-staff', component: () => import('./features/staff/pages/StaffPage.vue') },
        { path: 'team', name: 'settings-team', component: () => import('./features/staff/pages/TeamPage.vue') },
        { path: 'analytics', name: 'settings-analytics', component: () => import('./features/analytics/pages/DashboardPage.vue') },
        { path: 'targets', name: 'settings-targets', component: () => import('./features/analytics/pages/TargetsPage.vue') },
        { path: 'intents', name: 'settings-intents', component: () => import('./features/analytics/pages/IntentsPage.vue') },
        { path: 'agent-analysis', name: 'settings-agent-analysis', component: () => import('./features/analytics/pages/AgentsPage.vue') },
        { path: 'live', name: 'settings-live', component: () => import('./features/supervision/pages/LivePage.vue') },
        { path: 'phrases', name: 'settings-phrases', component: () => import('./features/phrases/pages/PhrasesPage.vue') },
        { path: 'permissions', name: 'settings-permissions', component: () => import('./features/staff/pages/PermissionsPage.vue') },
        { path: 'hours', name: 'settings-hours', component: () => import('./features/offline/pages/ServiceHoursPage.vue') },
        { path: 'blacklist', name: 'settings-blacklist', component: () => import('./features/offline/pages/BlacklistPage.vue') },
        { path: 'ratings', name: 'settings-ratings', component: () => import('./features/summaries/pages/RatingsSummariesPage.vue') },
        { path: 'tokens', name: 'settings-tokens', component: () => import('./features/catalog/pages/TokensPage.vue') },
      ],
    },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})
