import { createRouter, createWebHistory } from 'vue-router'

export const router = createRouter({
  history: createWebHistory('/'),
  routes: [
    { path: '/', name: 'landing', component: () => import('./features/landing/pages/LandingPage.vue') },
    { path: '/login', name: 'login', component: () => import('./features/auth/pages/LoginPage.vue') },
    { path: '/workbench', name: 'workbench', component: () => import('./features/workbench/pages/WorkbenchPage.vue') },
    { path: '/widget', name: 'widget', component: () => import('./features/widget/pages/WidgetPage.vue') },
    { path: '/demo/shop', name: 'demo-shop', component: () => import('./features/demo-shop/pages/DemoShopPage.vue') },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})
