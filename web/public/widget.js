/*
 * kefu embeddable chat loader (API-1).
 *   <script src="https://kefu.example/widget.js" data-shop="1"></script>
 * adds a floating chat button; window.kefu.open({product: {...}}) or ({order: {...}}) opens the
 * chat with that context. Optional attributes: data-label (button text), data-hide-button, data-identity (a
 * buyer the shop's site signed in: {"uid", "nickname", "ts", "sig"} as JSON, see docs/protocol.md).
 */
(function () {
  'use strict';
  if (window.kefu && window.kefu.__loaded) return;

  var script = document.currentScript;
  if (!script) {
    var all = document.querySelectorAll('script[src*="widget.js"]');
    script = all[all.length - 1];
  }
  var shop = (script && script.getAttribute('data-shop')) || '1';
  var base = new URL(script ? script.src : '/widget.js', location.href);
  var origin = base.origin;
  var lang = (document.documentElement.lang || navigator.language || 'zh-CN').toLowerCase();
  var isEn = lang.indexOf('en') === 0;
  var label = (script && script.getAttribute('data-label')) || (isEn ? 'Chat with us' : '咨询客服');
  var closeLabel = isEn ? 'Close' : '关闭';

  var css =
    '.kefu-launcher{position:fixed;right:24px;bottom:24px;z-index:2147483000;display:flex;align-items:center;gap:8px;' +
    'padding:0 20px;height:48px;border:none;border-radius:24px;background:#1677ff;color:#fff;font:600 15px/1 -apple-system,' +
    'BlinkMacSystemFont,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;box-shadow:0 8px 24px rgba(22,119,255,.35);cursor:pointer}' +
    '.kefu-launcher:hover{background:#0958d9}.kefu-launcher svg{width:20px;height:20px}' +
    '.kefu-panel{position:fixed;right:24px;bottom:24px;z-index:2147483001;width:380px;height:min(680px,calc(100vh - 48px));' +
    'border-radius:14px;overflow:hidden;box-shadow:0 16px 48px rgba(15,31,61,.28);background:#fff;display:none}' +
    '.kefu-panel.open{display:block}.kefu-panel iframe{width:100%;height:100%;border:0;display:block}' +
    '@media (max-width:600px){.kefu-panel{right:0;bottom:0;left:0;top:0;width:100%;height:100%;border-radius:0}}';
  var style = document.createElement('style');
  style.textContent = css;
  document.head.appendChild(style);

  var button = document.createElement('button');
  button.type = 'button';
  button.className = 'kefu-launcher';
  button.setAttribute('data-testid', 'kefu-launcher');
  button.setAttribute('aria-label', label);
  button.innerHTML =
    '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true">' +
    '<path d="M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.4A8 8 0 1 1 21 12z"/></svg>';
  var span = document.createElement('span');
  span.textContent = label;
  button.appendChild(span);

  var panel = document.createElement('div');
  panel.className = 'kefu-panel';
  panel.setAttribute('data-testid', 'kefu-panel');
  var frame = null;
  var currentSrc = '';

  function widgetUrl(ctx) {
    var params = new URLSearchParams();
    params.set('shop', shop);
    var source = 'direct';
    if (ctx && ctx.product) {
      source = 'product';
      params.set('product', JSON.stringify(ctx.product));
    } else if (ctx && ctx.order) {
      source = ctx.source || 'order';
      params.set('order', JSON.stringify(ctx.order));
    }
    if (ctx && ctx.source) source = ctx.source;
    params.set('source', source);
    params.set('page', location.href);
    // A buyer the shop's site signed in: data-identity='{"uid","nickname","ts","sig"}'.
    var identity = script && script.getAttribute('data-identity');
    if (identity) params.set('identity', identity);
    return origin + '/widget?' + params.toString();
  }

  function open(ctx) {
    var src = widgetUrl(ctx || {});
    if (!frame) {
      frame = document.createElement('iframe');
      frame.setAttribute('title', label);
      frame.setAttribute('name', 'kefu-widget');
      frame.setAttribute('data-testid', 'kefu-frame');
      frame.setAttribute('allow', 'clipboard-write');
      frame.addEventListener('load', report);
      panel.appendChild(frame);
    }
    if (src !== currentSrc && (ctx && (ctx.product || ctx.order) || !currentSrc)) {
      frame.src = src;
      currentSrc = src;
    }
    panel.classList.add('open');
    button.style.display = 'none';
  }

  function close() {
    panel.classList.remove('open');
    if (!(script && script.hasAttribute('data-hide-button'))) button.style.display = '';
  }

  // DESK-5: the pages of this site the consumer viewed (the last 20, in this browser), handed
  // to the chat when it opens and whenever the page changes while it is open.
  var pagesKey = 'kefu:pages:' + shop;
  function visited() {
    try {
      var list = JSON.parse(localStorage.getItem(pagesKey) || '[]');
      return Array.isArray(list) ? list : [];
    } catch (e) {
      return [];
    }
  }
  function remember() {
    var list = visited();
    var last = list[list.length - 1];
    // A hash change fires both hashchange and popstate: one view.
    if (last && last.url === location.href.slice(0, 500)) return;
    list.push({ url: location.href.slice(0, 500), title: (document.title || '').slice(0, 200), at: new Date().toISOString() });
    try {
      localStorage.setItem(pagesKey, JSON.stringify(list.slice(-20)));
    } catch (e) {
      /* storage full or blocked: no trail */
    }
  }
  function report() {
    if (frame && frame.contentWindow) frame.contentWindow.postMessage({ type: 'kefu:pages', pages: visited() }, origin);
  }
  function changed() {
    remember();
    report();
  }
  remember();
  window.addEventListener('hashchange', changed);
  window.addEventListener('popstate', changed);

  button.addEventListener('click', function () {
    open(null);
  });
  window.addEventListener('message', function (e) {
    if (e.origin === origin && e.data && e.data.type === 'kefu:close') close();
    if (e.origin === origin && e.data && e.data.type === 'kefu:ready') report();
  });
  window.addEventListener('keydown', function (e) {
    if (e.key === 'Escape' && panel.classList.contains('open')) close();
  });

  function mount() {
    if (!(script && script.hasAttribute('data-hide-button'))) document.body.appendChild(button);
    document.body.appendChild(panel);
  }
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);

  window.kefu = { open: open, close: close, __loaded: true };
})();
