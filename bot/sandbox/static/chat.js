/* xuexi-bot sandbox web chat.
 *
 * Plain script, no framework, no build step. Talks to the sandbox control API
 * (same origin, JSON):
 *   GET  /sandbox/info                         -> {bot: {id, username, ...}|null}
 *   GET  /sandbox/users                        -> {users: [...]}
 *   POST /sandbox/users                        -> {id}   (create, or update when "id" is given)
 *   POST /sandbox/users/{uid}/send             -> {message_id}
 *   POST /sandbox/users/{uid}/contact          -> {message_id}  (400 {error} without a phone)
 *   POST /sandbox/users/{uid}/document|photo   multipart "file" + "caption"
 *   POST /sandbox/users/{uid}/press            {message_id, data} | {message_id, text}
 *   GET  /sandbox/users/{uid}/messages?since=&wait=  long poll
 *   POST /sandbox/users/{uid}/block|unblock
 *   GET  /sandbox/users/{uid}/commands         the bot's command menu for that user (404 = none;
 *                                              /sandbox/commands?user_id= is tried as a fallback)
 * Users may carry `unread` (server-side count) and `last_message` (a message view, for the
 * sidebar preview); without last_message the preview is read with a short poll of the user's
 * chat, only for users with nothing unread (reading marks the chat read on the server).
 */
(function () {
  'use strict';

  // ------------------------------------------------------------------ i18n
  const I18N = {
    zh: {
      appTitle: '学习强国机器人 · 沙盒',
      appSub: '模拟 Telegram 用户，与机器人聊天',
      searchUsers: '搜索用户',
      usersLabel: '模拟用户',
      usersCount: '{0} 位',
      noUsers: '还没有模拟用户',
      noMatch: '没有匹配的用户',
      createFirstUser: '创建第一个用户',
      newUser: '新建用户',
      pickUser: '选择或新建一个用户，开始与机器人聊天',
      back: '返回',
      actingAs: '当前以此用户的身份聊天',
      youAre: '你的身份',
      more: '更多',
      shareContact: '分享我的手机号',
      editPhone: '修改手机号',
      copyId: '复制用户 ID',
      reloadChat: '重新载入聊天',
      blockBot: '屏蔽机器人',
      unblockBot: '解除屏蔽机器人',
      reconnecting: '连接中断，正在重连…',
      scrollDown: '回到底部',
      blockedNotice: '你已屏蔽此机器人',
      unblock: '解除屏蔽',
      commands: '机器人命令',
      menu: '菜单',
      attach: '附件',
      sendPhoto: '图片',
      sendDocument: '文件',
      inputPlaceholder: '输入消息…',
      toggleKeyboard: '显示/隐藏机器人键盘',
      send: '发送',
      dropPhoto: '拖到这里，以图片发送',
      dropDocument: '拖到这里，以文件发送（不压缩）',
      newUserTitle: '新建模拟用户',
      newUserHint: '这个用户会像真实的 Telegram 用户一样给机器人发消息。',
      firstName: '名字',
      lastName: '姓氏',
      username: '用户名',
      language: '语言',
      phoneOptional: '手机号（可选）',
      cancel: '取消',
      create: '创建',
      phoneTitle: '分享手机号',
      phoneHint: '这个用户还没有手机号。请填写一个号码，保存后会分享给机器人。',
      editPhoneTitle: '修改手机号',
      editPhoneHint: '只修改模拟用户的资料，不会给机器人发送任何消息。',
      phone: '手机号',
      saveAndShare: '保存并分享',
      save: '保存',
      caption: '说明（可选）',
      protectedContent: '受保护的内容，不能保存',
      openOriginal: '打开原图',
      close: '关闭',
      bot: '机器人',
      botNotConnected: '机器人尚未连接（还没有调用 getMe）',
      connecting: '连接中…',
      edited: '已编辑',
      today: '今天',
      yesterday: '昨天',
      photo: '图片',
      document: '文件',
      contact: '联系人',
      sticker: '贴纸',
      location: '位置',
      unsupported: '不支持的消息类型',
      you: '你',
      download: '下载',
      noSave: '禁止保存',
      protectedTip: '受保护的消息：不能转发、复制或保存',
      sendFailed: '发送失败，点击重试',
      emptyTitle: '这个机器人能做什么？',
      emptyText: '还没有消息。点击“开始”，像在 Telegram 里一样向机器人发送 /start。',
      start: '开始',
      loading: '加载中…',
      copied: '已复制',
      copiedId: '已复制用户 ID：{0}',
      blockedToast: '已屏蔽机器人',
      unblockedToast: '已解除屏蔽',
      sendPhotoTitle: '发送图片',
      sendDocTitle: '发送文件',
      unsupportedButton: '沙盒中不支持这种按钮',
      inlineQueryUnsupported: '沙盒中不支持内联查询',
      error: '出错了：{0}',
      nameRequired: '请填写名字',
      phoneRequired: '请填写手机号',
      phoneSaved: '手机号已保存',
      startLink: '打开邀请链接：/start {0}',
      noPhone: '无手机号',
      blocked: '已屏蔽',
      fileTooBig: '文件太大',
      userGone: '找不到这个用户（沙盒可能已重启）',
      pressing: '等待机器人回应…',
      typing: '正在输入…',
      newMessages: '{0} 条新消息',
      uploadingPhoto: '正在发送图片…',
      uploadingDocument: '正在发送文件…',
      uploadingVideo: '正在发送视频…',
      uploadingVoice: '正在发送语音…',
      recordingVoice: '正在录音…',
      recordingVideo: '正在录像…',
      choosingSticker: '正在选择贴纸…',
      findingLocation: '正在查找位置…',
      sendSticker: '贴纸 👍',
      deletedMessage: '已删除的消息',
    },
    en: {
      appTitle: 'xuexi-bot · Sandbox',
      appSub: 'Simulated Telegram users',
      searchUsers: 'Search users',
      usersLabel: 'Simulated users',
      usersCount: '{0}',
      noUsers: 'No simulated users yet',
      noMatch: 'No matching users',
      createFirstUser: 'Create the first user',
      newUser: 'New user',
      pickUser: 'Pick or create a user to start chatting with the bot',
      back: 'Back',
      actingAs: 'You are chatting as this user',
      youAre: 'You are',
      more: 'More',
      shareContact: 'Share my phone number',
      editPhone: 'Change phone number',
      copyId: 'Copy user ID',
      reloadChat: 'Reload chat',
      blockBot: 'Block bot',
      unblockBot: 'Unblock bot',
      reconnecting: 'Connection lost, reconnecting…',
      scrollDown: 'Scroll to bottom',
      blockedNotice: 'You have blocked this bot',
      unblock: 'Unblock',
      commands: 'Bot commands',
      menu: 'Menu',
      attach: 'Attach',
      sendPhoto: 'Photo',
      sendDocument: 'File',
      inputPlaceholder: 'Message',
      toggleKeyboard: 'Show/hide bot keyboard',
      send: 'Send',
      dropPhoto: 'Drop here to send as a photo',
      dropDocument: 'Drop here to send as a file (no compression)',
      newUserTitle: 'New simulated user',
      newUserHint: 'This user talks to the bot the way a real Telegram user would.',
      firstName: 'First name',
      lastName: 'Last name',
      username: 'Username',
      language: 'Language',
      phoneOptional: 'Phone (optional)',
      cancel: 'Cancel',
      create: 'Create',
      phoneTitle: 'Share phone number',
      phoneHint: 'This user has no phone number yet. Enter one; it is saved and then shared with the bot.',
      editPhoneTitle: 'Change phone number',
      editPhoneHint: 'Only changes the simulated user’s profile; nothing is sent to the bot.',
      phone: 'Phone number',
      saveAndShare: 'Save and share',
      save: 'Save',
      caption: 'Caption (optional)',
      protectedContent: 'Protected content, saving is disabled',
      openOriginal: 'Open original',
      close: 'Close',
      bot: 'bot',
      botNotConnected: 'bot not connected yet (no getMe call)',
      connecting: 'connecting…',
      edited: 'edited',
      today: 'Today',
      yesterday: 'Yesterday',
      photo: 'Photo',
      document: 'File',
      contact: 'Contact',
      sticker: 'Sticker',
      location: 'Location',
      unsupported: 'Unsupported message',
      you: 'You',
      download: 'Download',
      noSave: 'Saving disabled',
      protectedTip: 'Protected message: no forwarding, copying or saving',
      sendFailed: 'Not sent. Click to retry',
      emptyTitle: 'What can this bot do?',
      emptyText: 'No messages yet. Press START to send /start, just like in Telegram.',
      start: 'Start',
      loading: 'Loading…',
      copied: 'Copied',
      copiedId: 'User ID copied: {0}',
      blockedToast: 'Bot blocked',
      unblockedToast: 'Bot unblocked',
      sendPhotoTitle: 'Send photo',
      sendDocTitle: 'Send file',
      unsupportedButton: 'This kind of button is not supported in the sandbox',
      inlineQueryUnsupported: 'Inline queries are not supported in the sandbox',
      error: 'Error: {0}',
      nameRequired: 'Please enter a name',
      phoneRequired: 'Please enter a phone number',
      phoneSaved: 'Phone number saved',
      startLink: 'Opening invite link: /start {0}',
      noPhone: 'no phone',
      blocked: 'blocked',
      fileTooBig: 'File is too big',
      userGone: 'This user no longer exists (was the sandbox restarted?)',
      pressing: 'Waiting for the bot…',
      typing: 'typing…',
      newMessages: '{0} new',
      uploadingPhoto: 'sending a photo…',
      uploadingDocument: 'sending a file…',
      uploadingVideo: 'sending a video…',
      uploadingVoice: 'sending a voice message…',
      recordingVoice: 'recording a voice message…',
      recordingVideo: 'recording a video…',
      choosingSticker: 'choosing a sticker…',
      findingLocation: 'finding a location…',
      sendSticker: 'Sticker 👍',
      deletedMessage: 'Deleted message',
    },
  };

  const LANG_KEY = 'xuexi-sandbox.lang';
  const SEEN_KEY = 'xuexi-sandbox.seen';

  function storedLang() {
    try {
      const v = localStorage.getItem(LANG_KEY);
      return v === 'en' || v === 'zh' ? v : 'zh';
    } catch (_) { return 'zh'; }
  }

  // ------------------------------------------------------------------ state
  const state = {
    lang: storedLang(),
    bot: null,
    users: [],
    usersSig: '',
    uid: null,
    msgs: new Map(),          // key -> message (current chat)
    nodes: new Map(),         // key -> {sig, el}
    seq: 0,
    loaded: false,
    pollCtrl: null,
    replyKb: null,
    replyKbSig: '',
    kbHidden: false,
    commands: [],
    commandsFor: null,
    pendingN: 0,
    drafts: new Map(),
    stick: true,
    connOk: true,
    others: new Map(),        // uid -> {seq, msgs: Map(id -> msg)} for the sidebar previews
    seen: loadSeen(),
    suggestSel: 0,
  };

  function loadSeen() {
    try { return JSON.parse(localStorage.getItem(SEEN_KEY) || '{}') || {}; } catch (_) { return {}; }
  }
  function saveSeen() {
    try { localStorage.setItem(SEEN_KEY, JSON.stringify(state.seen)); } catch (_) { /* ignore */ }
  }

  // ------------------------------------------------------------------ helpers
  const $ = (id) => document.getElementById(id);
  const el = {};
  [
    'app', 'sidebar', 'userList', 'userListEmpty', 'userSearch', 'userCount', 'brandSub',
    'chat', 'chatHead', 'backBtn', 'botAvatar', 'botName', 'chatSub', 'asUser', 'asUserAvatar', 'asUserName',
    'chatMenuBtn', 'chatMenu', 'blockLabel', 'connBanner', 'messages', 'messagesInner', 'scrollDown',
    'toastHost', 'composer', 'cmdSuggest', 'replyKb', 'blockedBar', 'inputRow', 'cmdBtn', 'cmdMenu',
    'attachBtn', 'attachMenu', 'input', 'kbToggle', 'sendBtn', 'photoInput', 'docInput', 'dropOverlay',
    'modalBackdrop', 'newUserModal', 'phoneModal', 'uploadModal', 'alertModal', 'viewer', 'viewerImg',
    'viewerOpen', 'viewerLock',
  ].forEach((id) => { el[id] = $(id); });

  function t(key, ...args) {
    const dict = I18N[state.lang] || I18N.zh;
    let s = dict[key] != null ? dict[key] : (I18N.zh[key] != null ? I18N.zh[key] : key);
    args.forEach((a, i) => { s = s.split('{' + i + '}').join(String(a)); });
    return s;
  }

  function h(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    return n;
  }

  function svgIcon(path, viewBox) {
    const ns = 'http://www.w3.org/2000/svg';
    const s = document.createElementNS(ns, 'svg');
    s.setAttribute('viewBox', viewBox || '0 0 24 24');
    const p = document.createElementNS(ns, 'path');
    p.setAttribute('d', path);
    s.appendChild(p);
    return s;
  }
  const ICON_TICKS = 'M5.3 12.6L1.7 9l-1.2 1.2 4.8 4.8L15.5 4.8 14.3 3.6zm5.8 2.4L9.9 13.8l-1.2 1.2 2.4 2.4L21.3 7.2 20.1 6z';
  const ICON_CLOCK = 'M12 2a10 10 0 100 20 10 10 0 000-20zm0 2a8 8 0 110 16 8 8 0 010-16zm-1 3v6l5 3 1-1.6-4-2.4V7z';
  const ICON_ARROW = 'M14 3h7v7h-2V6.4l-9.3 9.3-1.4-1.4L17.6 5H14zM5 5h6v2H5v12h12v-6h2v6a2 2 0 01-2 2H5a2 2 0 01-2-2V7a2 2 0 012-2z';
  const ICON_ALERT = 'M12 2a10 10 0 100 20 10 10 0 000-20zm1 15h-2v-2h2zm0-4h-2V7h2z';

  async function api(method, path, body, opts) {
    opts = opts || {};
    const init = { method, headers: {}, signal: opts.signal, cache: 'no-store' };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    const raw = await res.text();
    let data = null;
    if (raw) {
      try { data = JSON.parse(raw); } catch (_) { data = { error: raw.slice(0, 300) }; }
    }
    if (!res.ok) {
      const msg = (data && (data.error || data.description || data.detail)) || ('HTTP ' + res.status);
      const err = new Error(typeof msg === 'string' ? msg : JSON.stringify(msg));
      err.status = res.status;
      err.data = data;
      throw err;
    }
    return data || {};
  }

  function sleep(ms, signal) {
    return new Promise((resolve) => {
      const id = setTimeout(resolve, ms);
      if (signal) signal.addEventListener('abort', () => { clearTimeout(id); resolve(); }, { once: true });
    });
  }

  const pad2 = (n) => String(n).padStart(2, '0');
  function hhmm(unix) {
    const d = new Date(unix * 1000);
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes());
  }
  function dayKey(unix) {
    const d = new Date(unix * 1000);
    return d.getFullYear() + '-' + d.getMonth() + '-' + d.getDate();
  }
  function dayLabel(unix) {
    const d = new Date(unix * 1000);
    const now = new Date();
    const y = new Date(now); y.setDate(now.getDate() - 1);
    if (dayKey(unix) === dayKey(now / 1000)) return t('today');
    if (dayKey(unix) === dayKey(y / 1000)) return t('yesterday');
    const opts = { month: 'long', day: 'numeric' };
    if (d.getFullYear() !== now.getFullYear()) opts.year = 'numeric';
    return new Intl.DateTimeFormat(state.lang === 'zh' ? 'zh-CN' : 'en-US', opts).format(d);
  }
  function shortWhen(unix) {
    if (!unix) return '';
    if (dayKey(unix) === dayKey(Date.now() / 1000)) return hhmm(unix);
    const d = new Date(unix * 1000);
    return state.lang === 'zh' ? (d.getMonth() + 1) + '月' + d.getDate() + '日' : (d.getMonth() + 1) + '/' + d.getDate();
  }
  function fullWhen(unix) {
    return new Intl.DateTimeFormat(state.lang === 'zh' ? 'zh-CN' : 'en-GB', {
      dateStyle: 'medium', timeStyle: 'medium',
    }).format(new Date(unix * 1000));
  }
  function humanSize(n) {
    if (n == null || isNaN(n)) return '';
    if (n < 1024) return n + ' B';
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KB';
    return (n / 1024 / 1024).toFixed(1) + ' MB';
  }

  function userName(u) {
    if (!u) return '';
    const n = joinName(u.first_name, u.last_name);
    return n || (u.username ? '@' + u.username : String(u.id));
  }
  const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;
  function joinName(first, last) {
    const f = String(first || '').trim();
    const l = String(last || '').trim();
    if (!l) return f;
    if (!f) return l;
    return CJK.test(f.slice(-1)) && CJK.test(l[0]) ? f + l : f + ' ' + l;
  }
  function initials(u) {
    const f = (u && u.first_name) || '';
    const l = (u && u.last_name) || '';
    const first = Array.from(f.trim())[0] || '';
    const cjk = /[\u3400-\u9fff\uf900-\ufaff]/.test(first);
    if (cjk) return first;
    const second = Array.from(l.trim())[0] || '';
    return (first + second) || '?';
  }
  function paintAvatar(node, u, seed) {
    node.textContent = initials(u);
    node.className = node.className.replace(/\bc\d\b/g, '').trim() + ' c' + (Math.abs(Number(seed) || 0) % 7);
  }
  function currentUser() {
    return state.users.find((u) => String(u.id) === String(state.uid)) || null;
  }
  function botDisplayName() {
    const b = state.bot;
    if (!b) return 'Bot';
    return b.first_name || b.name || (b.username ? b.username : 'Bot');
  }
  function randomPhone() {
    const d = () => Math.floor(Math.random() * 10);
    return '+86 138 ' + d() + d() + d() + d() + ' ' + d() + d() + d() + d();
  }
  function normPhone(p) {
    return String(p || '').replace(/[\s\-()]/g, '');
  }
  const ZH_NAMES = ['王芳', '李娜', '张伟', '刘洋', '陈静', '杨帆', '赵磊', '黄敏', '周杰', '吴婷', '徐明', '孙丽', '马超', '朱琳', '胡军', '郭欣'];
  const EN_NAMES = [['Alice', 'Smith'], ['Bob', 'Jones'], ['Carol', 'Brown'], ['David', 'Miller'], ['Emma', 'Wilson'], ['Frank', 'Moore'], ['Grace', 'Taylor'], ['Henry', 'Clark']];
  const pick = (arr) => arr[Math.floor(Math.random() * arr.length)];

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (_) {
      const ta = h('textarea');
      ta.value = text;
      ta.style.position = 'fixed';
      ta.style.opacity = '0';
      document.body.appendChild(ta);
      ta.select();
      let ok = false;
      try { ok = document.execCommand('copy'); } catch (_) { ok = false; }
      ta.remove();
      return ok;
    }
  }

  // ------------------------------------------------------------------ safe rich text
  // Telegram's HTML subset is parsed with a small tokenizer (no HTML parsing by the browser):
  // allowed tags become fresh elements, anything else is shown as literal text.
  const TAG_MAP = {
    b: 'b', strong: 'b', i: 'i', em: 'i', u: 'u', ins: 'u', s: 's', strike: 's', del: 's',
    code: 'code', pre: 'pre', a: 'a', 'tg-spoiler': 'spoiler', blockquote: 'blockquote', br: 'br',
    span: 'spoiler', 'tg-emoji': 'emoji',
  };
  const NAMED_ENT = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: '\u00a0' };
  function decodeEntities(s) {
    return s.replace(/&(#[xX][0-9a-fA-F]+|#\d+|[a-zA-Z]+);/g, (all, e) => {
      if (e[0] === '#') {
        const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        if (!isNaN(cp) && cp > 0 && cp <= 0x10ffff) {
          try { return String.fromCodePoint(cp); } catch (_) { return all; }
        }
        return all;
      }
      const v = NAMED_ENT[e.toLowerCase()];
      return v != null ? v : all;
    });
  }
  function parseAttrs(s) {
    const out = {};
    const re = /([^\s=\/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g;
    let m;
    while ((m = re.exec(s))) {
      const v = m[2] != null ? m[2] : m[3] != null ? m[3] : m[4] != null ? m[4] : '';
      out[m[1].toLowerCase()] = decodeEntities(v);
    }
    return out;
  }
  function safeHref(href) {
    const v = String(href || '').trim();
    if (/^(https?:|tg:|mailto:|tel:)/i.test(v)) return v;
    if (/^[a-z0-9.-]+\.[a-z]{2,}(\/|$)/i.test(v)) return 'http://' + v;
    return null;
  }
  function makeSpoiler() {
    const s = h('span', 'spoiler');
    s.addEventListener('click', (ev) => {
      if (!s.classList.contains('revealed')) {
        ev.preventDefault();
        ev.stopPropagation();
        s.classList.add('revealed');
      }
    });
    return s;
  }

  function renderTelegramHtml(src, container) {
    const TAG_RE = /<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s>=\/]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>"']+))?)*)\s*(\/?)>/g;
    const stack = [{ node: container, name: null }];
    const top = () => stack[stack.length - 1].node;
    const text = (s, decode) => {
      if (!s) return;
      top().appendChild(document.createTextNode(decode ? decodeEntities(s) : s));
    };
    let last = 0;
    let m;
    while ((m = TAG_RE.exec(src))) {
      text(src.slice(last, m.index), true);
      last = TAG_RE.lastIndex;
      const raw = m[0];
      const closing = m[1] === '/';
      const name = m[2].toLowerCase();
      const attrs = parseAttrs(m[3] || '');
      const kind = TAG_MAP[name];
      if (!kind) { text(raw, false); continue; }
      if (closing) {
        let idx = -1;
        for (let i = stack.length - 1; i > 0; i--) { if (stack[i].name === name) { idx = i; break; } }
        if (idx > 0) stack.length = idx; else text(raw, false);
        continue;
      }
      if (name === 'span' && !/(^|\s)tg-spoiler(\s|$)/.test(attrs.class || '')) { text(raw, false); continue; }
      let node;
      switch (kind) {
        case 'br': top().appendChild(document.createElement('br')); continue;
        case 'spoiler': node = makeSpoiler(); break;
        case 'emoji': node = h('span', 'tg-emoji'); break;
        case 'a': {
          node = document.createElement('a');
          const href = safeHref(attrs.href);
          if (href) {
            node.href = href;
            node.target = '_blank';
            node.rel = 'noopener noreferrer';
          }
          break;
        }
        case 'code': {
          node = document.createElement('code');
          const lang = /^language-([\w+#-]{1,20})$/.exec(attrs.class || '');
          if (lang) node.dataset.lang = lang[1];
          break;
        }
        default: node = document.createElement(kind);
      }
      top().appendChild(node);
      if (m[4] !== '/') stack.push({ node, name });
    }
    text(src.slice(last), true);
    linkify(container);
  }

  const LINK_RE = /(https?:\/\/[^\s<>"'“”‘’（）【】，。！？]+[^\s<>"'“”‘’（）【】，。！？.,;:!?)\]])|(?:^|(?<=[\s(（：:]))(\/[a-zA-Z0-9_]{1,32}(?:@[a-zA-Z0-9_]{3,32})?)(?=$|[\s.,!?;:，。！？；：)）])/g;
  function linkify(root) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
      acceptNode(n) {
        for (let p = n.parentNode; p && p !== root; p = p.parentNode) {
          if (p.nodeName === 'A' || p.nodeName === 'CODE' || p.nodeName === 'PRE') return NodeFilter.FILTER_REJECT;
        }
        return NodeFilter.FILTER_ACCEPT;
      },
    });
    const nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    nodes.forEach((n) => {
      const s = n.nodeValue;
      LINK_RE.lastIndex = 0;
      if (!LINK_RE.test(s)) return;
      LINK_RE.lastIndex = 0;
      const frag = document.createDocumentFragment();
      let last = 0;
      let m;
      while ((m = LINK_RE.exec(s))) {
        const tok = m[1] || m[2];
        const start = m.index + m[0].length - tok.length;
        if (start > last) frag.appendChild(document.createTextNode(s.slice(last, start)));
        const a = document.createElement('a');
        a.textContent = tok;
        if (m[1]) {
          a.href = tok;
          a.target = '_blank';
          a.rel = 'noopener noreferrer';
        } else {
          a.href = '#';
          a.dataset.command = tok.replace(/@.*$/, '');
        }
        frag.appendChild(a);
        last = start + tok.length;
      }
      if (last < s.length) frag.appendChild(document.createTextNode(s.slice(last)));
      n.parentNode.replaceChild(frag, n);
    });
  }

  function richNode(m, cls) {
    const box = h('div', cls);
    if (m.html != null && m.html !== '') renderTelegramHtml(String(m.html), box);
    else {
      box.textContent = m.text != null ? String(m.text) : String(m.caption || '');
      linkify(box);
    }
    return box;
  }
  function hasRich(m) {
    return (m.html != null && m.html !== '') || (m.text != null && m.text !== '') || (m.caption != null && m.caption !== '');
  }
  function plainPreview(m) {
    if (m.html) {
      const d = h('div');
      renderTelegramHtml(String(m.html), d);
      return d.textContent;
    }
    return String(m.text || m.caption || '');
  }
  function previewOf(m) {
    const txt = plainPreview(m).replace(/\s+/g, ' ').trim();
    if (m.photo) return '🖼 ' + (txt || t('photo'));
    if (m.document) return '📄 ' + (txt || m.document.file_name || t('document'));
    if (m.contact) return '👤 ' + t('contact');
    if (m.sticker) return (m.sticker.emoji || '') + ' ' + t('sticker');
    if (m.location) return '📍 ' + t('location');
    return txt || t('unsupported');
  }

  // ------------------------------------------------------------------ t.me start links
  function parseStartLink(url) {
    let u;
    try { u = new URL(url, location.href); } catch (_) { return null; }
    const botName = state.bot && state.bot.username ? String(state.bot.username).toLowerCase() : null;
    if (u.protocol === 'tg:') {
      const path = (u.hostname || u.pathname.replace(/^\/+/, '')).toLowerCase();
      if (path !== 'resolve') return null;
      const start = u.searchParams.get('start');
      if (start != null) return start;
      const dom = (u.searchParams.get('domain') || '').toLowerCase();
      return botName && dom === botName ? '' : null;
    }
    if (!/^https?:$/.test(u.protocol)) return null;
    const host = u.hostname.toLowerCase();
    if (host !== 't.me' && host !== 'telegram.me' && host !== 'www.t.me' && host !== 'telegram.dog') return null;
    const parts = u.pathname.split('/').filter(Boolean);
    if (parts.length !== 1 || /^(joinchat|\+|addstickers|share|proxy|socks)/i.test(parts[0])) return null;
    const start = u.searchParams.get('start');
    if (start != null) return start;
    return botName && parts[0].toLowerCase() === botName ? '' : null;
  }

  function openUrl(url) {
    const start = parseStartLink(url);
    if (start !== null) {
      if (start) toast(t('startLink', start));
      sendText(start ? '/start ' + start : '/start');
      return;
    }
    const safe = safeHref(url);
    if (safe) window.open(safe, '_blank', 'noopener,noreferrer');
  }

  // ------------------------------------------------------------------ language
  function applyLang() {
    document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en';
    document.querySelectorAll('[data-i18n]').forEach((n) => { n.textContent = t(n.dataset.i18n); });
    document.querySelectorAll('[data-i18n-placeholder]').forEach((n) => { n.placeholder = t(n.dataset.i18nPlaceholder); });
    document.querySelectorAll('[data-i18n-title]').forEach((n) => { n.title = t(n.dataset.i18nTitle); });
    document.querySelectorAll('.lang-btn').forEach((b) => b.classList.toggle('active', b.dataset.lang === state.lang));
    renderUserList();
    renderHeader();
    renderReplyKb();
    state.nodes.clear();
    renderMessages({ keepScroll: true });
    renderCommands();
    updateTitle();
  }
  function setLang(lang) {
    if (lang !== 'zh' && lang !== 'en') return;
    state.lang = lang;
    try { localStorage.setItem(LANG_KEY, lang); } catch (_) { /* ignore */ }
    applyLang();
  }

  // ------------------------------------------------------------------ toasts & modals
  function toast(text, opts) {
    const n = h('div', 'toast' + (opts && opts.error ? ' error' : ''), text);
    el.toastHost.appendChild(n);
    while (el.toastHost.children.length > 3) el.toastHost.firstChild.remove();
    const ms = Math.min(6000, 1800 + String(text).length * 60);
    setTimeout(() => {
      n.classList.add('out');
      setTimeout(() => n.remove(), 260);
    }, ms);
  }
  function toastError(e) {
    toast(t('error', e && e.message ? e.message : String(e)), { error: true });
  }

  let modalResolve = null;
  function openModal(id) {
    closeMenus();
    el.modalBackdrop.classList.remove('hidden');
    el.modalBackdrop.querySelectorAll('.modal').forEach((m) => m.classList.toggle('hidden', m.id !== id));
    const m = $(id);
    m.querySelectorAll('[data-role="error"]').forEach((e) => e.classList.add('hidden'));
    const first = m.querySelector('input:not([type=hidden]), textarea, .btn.primary');
    if (first) setTimeout(() => { first.focus(); if (first.select) first.select(); }, 30);
    return m;
  }
  function closeModal(result) {
    el.modalBackdrop.classList.add('hidden');
    el.modalBackdrop.querySelectorAll('.modal').forEach((m) => m.classList.add('hidden'));
    const r = modalResolve;
    modalResolve = null;
    if (r) r(result);
  }
  function modalError(m, text) {
    const e = m.querySelector('[data-role="error"]');
    e.textContent = text;
    e.classList.remove('hidden');
  }
  function showAlert(text) {
    const m = el.alertModal;
    m.querySelector('[data-role="from"]').textContent = botDisplayName();
    m.querySelector('[data-role="text"]').textContent = text;
    openModal('alertModal');
  }

  function closeMenus(except) {
    [el.chatMenu, el.attachMenu, el.cmdMenu].forEach((m) => { if (m !== except) m.classList.add('hidden'); });
  }
  function toggleMenu(menu) {
    const open = menu.classList.contains('hidden');
    closeMenus(menu);
    menu.classList.toggle('hidden', !open);
  }

  // ------------------------------------------------------------------ bot info
  async function loadInfo() {
    try {
      const d = await api('GET', '/sandbox/info');
      const sig = JSON.stringify(d.bot || null);
      if (sig !== JSON.stringify(state.bot)) {
        state.bot = d.bot || null;
        renderHeader();
        updateTitle();
      }
    } catch (_) { /* server not up yet */ }
  }

  // ------------------------------------------------------------------ users
  async function loadUsers() {
    let d;
    try { d = await api('GET', '/sandbox/users'); } catch (_) { return false; }
    const users = Array.isArray(d.users) ? d.users : [];
    const sig = JSON.stringify(users);
    if (sig !== state.usersSig) {
      state.usersSig = sig;
      state.users = users;
      renderUserList();
      renderHeader();
      renderComposerState();
    }
    return true;
  }

  function unreadFor(uid) {
    const seen = Number(state.seen[uid] || 0);
    let list;
    if (String(uid) === String(state.uid)) return 0;
    const u = state.users.find((x) => String(x.id) === String(uid));
    if (u && typeof u.unread === 'number') return u.unread;
    const o = state.others.get(String(uid));
    if (!o) return 0;
    list = o.msgs;
    let n = 0;
    list.forEach((m) => { if (m.from === 'bot' && !m.deleted && Number(m.message_id) > seen) n++; });
    return n;
  }
  function lastMessageFor(uid) {
    if (String(uid) !== String(state.uid)) {
      const u = state.users.find((x) => String(x.id) === String(uid));
      if (u && u.last_message !== undefined) return u.last_message && !u.last_message.deleted ? u.last_message : null;
    }
    const src = String(uid) === String(state.uid) ? state.msgs : (state.others.get(String(uid)) || {}).msgs;
    if (!src) return null;
    let best = null;
    src.forEach((m) => {
      if (m.deleted || m._leaving) return;
      if (!best || sortKey(m) > sortKey(best)) best = m;
    });
    return best;
  }

  function renderUserList() {
    const q = el.userSearch.value.trim().toLowerCase();
    const list = el.userList;
    list.replaceChildren();
    const users = state.users.filter((u) => {
      if (!q) return true;
      return [userName(u), u.username, String(u.id), u.phone].filter(Boolean).join(' ').toLowerCase().includes(q);
    });
    el.userCount.textContent = state.users.length ? t('usersCount', state.users.length) : '';
    el.userListEmpty.classList.toggle('hidden', state.users.length > 0);
    if (!users.length && state.users.length) {
      list.appendChild(h('li', 'user-list-none', t('noMatch')));
    }
    users.forEach((u) => {
      const li = h('li', 'user-item');
      li.setAttribute('role', 'option');
      li.dataset.uid = u.id;
      if (String(u.id) === String(state.uid)) { li.classList.add('active'); li.setAttribute('aria-selected', 'true'); }
      const av = h('div', 'avatar');
      paintAvatar(av, u, u.id);
      const main = h('div', 'u-main');
      const top = h('div', 'u-top');
      top.appendChild(h('span', 'u-name', userName(u)));
      const last = lastMessageFor(u.id);
      top.appendChild(h('span', 'u-time', last ? shortWhen(last.date) : ''));
      const bottom = h('div', 'u-bottom');
      const pv = h('span', 'u-preview');
      if (last) {
        if (last.from === 'user') pv.appendChild(h('span', 'who', t('you') + ': '));
        pv.appendChild(document.createTextNode(previewOf(last)));
      } else if (unreadFor(u.id) > 0) {
        pv.appendChild(h('span', 'who', t('newMessages', unreadFor(u.id))));
      } else {
        const bits = [];
        if (u.username) bits.push('@' + u.username);
        bits.push('ID ' + u.id);
        bits.push(u.phone ? u.phone : t('noPhone'));
        pv.textContent = bits.join(' · ');
      }
      bottom.appendChild(pv);
      const badges = h('span', 'u-badges');
      if (u.blocked) badges.appendChild(h('span', 'badge blocked', '🚫 ' + t('blocked')));
      if (u.language_code) badges.appendChild(h('span', 'badge', String(u.language_code)));
      const unread = unreadFor(u.id);
      if (unread) badges.appendChild(h('span', 'badge unread', unread > 99 ? '99+' : String(unread)));
      bottom.appendChild(badges);
      main.append(top, bottom);
      li.append(av, main);
      li.title = [userName(u), u.username ? '@' + u.username : '', 'ID ' + u.id, u.phone || ''].filter(Boolean).join('\n');
      li.addEventListener('click', () => selectUser(u.id));
      list.appendChild(li);
    });
  }

  // previews of the users who are not open: short polls, incremental by seq
  let othersBusy = false;
  async function refreshOthers() {
    if (othersBusy || document.hidden) return;
    othersBusy = true;
    try {
      for (const u of state.users.slice(0, 60)) {
        const uid = String(u.id);
        if (uid === String(state.uid)) continue;
        if (u.last_message !== undefined) continue;            // the server gives the preview
        if (typeof u.unread === 'number' && u.unread > 0) continue; // reading would mark it read
        let o = state.others.get(uid);
        if (!o) { o = { seq: 0, msgs: new Map() }; state.others.set(uid, o); }
        try {
          const d = await api('GET', '/sandbox/users/' + encodeURIComponent(uid) + '/messages?since=' + o.seq + '&wait=0');
          if (typeof d.seq === 'number' && d.seq < o.seq) { o.seq = 0; o.msgs.clear(); continue; }
          (d.messages || []).forEach((m) => {
            if (m.deleted) o.msgs.delete(m.message_id);
            else o.msgs.set(m.message_id, m);
          });
          if (typeof d.seq === 'number') o.seq = d.seq;
        } catch (_) { /* ignore one user */ }
      }
    } finally {
      othersBusy = false;
    }
    renderUserList();
  }

  function markSeen() {
    if (!state.uid) return;
    let max = Number(state.seen[state.uid] || 0);
    state.msgs.forEach((m) => { if (typeof m.message_id === 'number' && m.message_id > max) max = m.message_id; });
    if (max !== Number(state.seen[state.uid] || 0)) {
      state.seen[state.uid] = max;
      saveSeen();
    }
  }

  // ------------------------------------------------------------------ selecting a user / hash
  function hashUid() {
    const m = /(?:^#|&)u=(\d+)/.exec(location.hash || '');
    return m ? m[1] : null;
  }

  function selectUser(uid, fromHash) {
    uid = uid == null ? null : String(uid);
    if (!fromHash) {
      const want = uid ? '#u=' + uid : '';
      if (location.hash !== want) history.replaceState(null, '', uid ? want : location.pathname + location.search);
    }
    if (uid === state.uid) return;
    // keep the draft of the user we leave
    if (state.uid) {
      state.drafts.set(state.uid, el.input.value);
      // what we know becomes the sidebar cache of that user
      const o = { seq: state.seq, msgs: new Map() };
      state.msgs.forEach((m) => { if (typeof m.message_id === 'number') o.msgs.set(m.message_id, m); });
      state.others.set(state.uid, o);
    }
    if (state.pollCtrl) state.pollCtrl.abort();
    state.pollCtrl = null;
    state.uid = uid;
    state.msgs = new Map();
    state.nodes = new Map();
    state.seq = 0;
    state.loaded = false;
    state.replyKb = null;
    state.replyKbSig = '';
    state.kbHidden = false;
    state.commands = [];
    state.commandsFor = null;
    state.chatAction = null;
    state.stick = true;
    setConn(true);
    closeMenus();
    hideSuggest();
    el.toastHost.replaceChildren();
    el.app.classList.toggle('no-chat', !uid);
    el.input.value = uid ? (state.drafts.get(uid) || '') : '';
    autoGrow();
    renderUserList();
    renderHeader();
    renderReplyKb();
    renderCommands();
    renderComposerState();
    renderMessages();
    updateTitle();
    if (!uid) return;
    const ctrl = new AbortController();
    state.pollCtrl = ctrl;
    pollLoop(uid, ctrl);
    loadCommands(uid);
    if (window.matchMedia('(min-width: 761px)').matches) setTimeout(() => el.input.focus(), 50);
  }

  function updateTitle() {
    const u = currentUser();
    document.title = (u ? userName(u) + ' ↔ ' + botDisplayName() + ' · ' : '') + t('appTitle');
  }

  // ------------------------------------------------------------------ long poll
  function setConn(ok) {
    state.connOk = ok;
    el.connBanner.classList.toggle('hidden', ok);
    renderHeaderSub();
  }

  // Headless Chromium's --virtual-time-budget stalls while a request is pending, so a long poll
  // would keep `chromium --headless --screenshot` from ever finishing: poll briefly there instead
  // (also with #...&poll=short).
  const SHORT_POLL = /HeadlessChrome/.test(navigator.userAgent) || /(?:^#|&)poll=short\b/.test(location.hash);

  async function pollLoop(uid, ctrl) {
    let failures = 0;
    while (!ctrl.signal.aborted && state.uid === uid) {
      try {
        if (SHORT_POLL && state.loaded) await sleep(1500, ctrl.signal);
        if (ctrl.signal.aborted || state.uid !== uid) return;
        const wait = state.loaded && !SHORT_POLL ? 25 : 0;
        const d = await api('GET', '/sandbox/users/' + encodeURIComponent(uid) + '/messages?since=' + state.seq + '&wait=' + wait,
          undefined, { signal: ctrl.signal });
        if (ctrl.signal.aborted || state.uid !== uid) return;
        failures = 0;
        if (!state.connOk) setConn(true);
        applyUpdate(d);
      } catch (e) {
        if (ctrl.signal.aborted || state.uid !== uid) return;
        failures++;
        if (e.status === 404) {
          setConn(false);
          el.connBanner.textContent = t('userGone');
          loadUsers();
        } else if (failures >= 2 || !e.status) {
          el.connBanner.textContent = t('reconnecting');
          setConn(false);
        }
        await sleep(Math.min(8000, 500 * Math.pow(2, Math.min(failures, 4))), ctrl.signal);
      }
    }
  }

  function applyUpdate(d) {
    const firstLoad = !state.loaded;
    if (typeof d.seq === 'number' && d.seq < state.seq) {
      // the sandbox was restarted: start over
      state.msgs.clear();
      state.nodes.clear();
      state.seq = 0;
      state.loaded = false;
      return;
    }
    let changed = firstLoad;
    let sawNewFromBot = false;
    (d.messages || []).forEach((m) => {
      if (m == null || m.message_id == null) return;
      const key = m.message_id;
      if (m.deleted) {
        const old = state.msgs.get(key);
        if (old && !old._leaving) {
          old._leaving = true;
          const uid = state.uid;
          const node = state.nodes.get(key);
          if (node) node.el.classList.add('leaving');
          setTimeout(() => {
            if (state.uid !== uid) return;
            state.msgs.delete(key);
            renderMessages({ keepScroll: true });
            renderUserList();
          }, 230);
        }
        return;
      }
      if (!state.msgs.has(key) && m.from === 'bot') sawNewFromBot = true;
      // the poll delivered a message of ours before its POST answered: drop the pending bubble
      if (m.from === 'user' && !state.msgs.has(key)) absorbPending(m);
      state.msgs.set(key, m);
      changed = true;
    });
    if (typeof d.seq === 'number') state.seq = d.seq;
    if (Object.prototype.hasOwnProperty.call(d, 'reply_keyboard')) setReplyKeyboard(d.reply_keyboard);
    if (Object.prototype.hasOwnProperty.call(d, 'chat_action')) setChatAction(d.chat_action);
    state.loaded = true;
    if (changed) {
      renderMessages({ initial: firstLoad, animate: !firstLoad });
      if (sawNewFromBot && !document.hasFocus()) flashTitle();
      markSeen();
      renderUserList();
    }
  }

  let flashTimer = null;
  function flashTitle() {
    if (flashTimer) return;
    const orig = document.title;
    let on = false;
    flashTimer = setInterval(() => {
      on = !on;
      document.title = on ? '💬 ' + botDisplayName() : orig;
    }, 1000);
    const stop = () => {
      clearInterval(flashTimer);
      flashTimer = null;
      updateTitle();
      window.removeEventListener('focus', stop);
    };
    window.addEventListener('focus', stop);
  }

  // ------------------------------------------------------------------ rendering messages
  function sortKey(m) {
    if (m._pending) return 1e15 + m._n;
    return Number(m.message_id);
  }
  function msgSig(m) {
    return JSON.stringify([m, state.lang]);
  }

  function isNearBottom() {
    const s = el.messages;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }
  function scrollToBottom(smooth) {
    const s = el.messages;
    if (smooth && 'scrollBehavior' in document.documentElement.style) s.scrollTo({ top: s.scrollHeight, behavior: 'smooth' });
    else s.scrollTop = s.scrollHeight;
    state.stick = true;
    el.scrollDown.classList.add('hidden');
  }

  function renderMessages(opts) {
    opts = opts || {};
    const inner = el.messagesInner;
    if (!state.uid) { inner.replaceChildren(); return; }
    const stick = opts.initial || opts.forceBottom || state.stick;
    const list = Array.from(state.msgs.values()).sort((a, b) => sortKey(a) - sortKey(b));
    const out = [];
    if (!state.loaded) {
      const l = h('div', 'loading-chat');
      l.appendChild(h('span', null, t('loading')));
      out.push(l);
    } else if (!list.length) {
      out.push(emptyCard());
    }
    let prevDay = null;
    for (let i = 0; i < list.length; i++) {
      const m = list[i];
      const key = m._pending ? 'p' + m._n : m.message_id;
      const day = dayKey(m.date || Date.now() / 1000);
      if (day !== prevDay) {
        const sep = h('div', 'day-sep');
        sep.appendChild(h('span', null, dayLabel(m.date || Date.now() / 1000)));
        out.push(sep);
      }
      let rec = state.nodes.get(key);
      const sig = msgSig(m);
      if (!rec || rec.sig !== sig) {
        const fresh = !rec && opts.animate;
        rec = { sig, el: buildMessage(m) };
        if (fresh) {
          rec.el.classList.add('fresh');
          rec.el.addEventListener('animationend', () => rec.el.classList.remove('fresh'), { once: true });
        }
        state.nodes.set(key, rec);
      }
      const prev = i > 0 ? list[i - 1] : null;
      const next = i + 1 < list.length ? list[i + 1] : null;
      const node = rec.el;
      node.classList.toggle('group-start', !prev || prev.from !== m.from || day !== prevDay);
      node.classList.toggle('group-end', !next || next.from !== m.from || dayKey(next.date || Date.now() / 1000) !== day
        || !!(m.reply_markup && m.reply_markup.inline_keyboard && m.reply_markup.inline_keyboard.length));
      node.classList.toggle('leaving', !!m._leaving);
      out.push(node);
      prevDay = day;
    }
    // drop cached nodes of messages that are gone
    const live = new Set(list.map((m) => (m._pending ? 'p' + m._n : m.message_id)));
    state.nodes.forEach((_, k) => { if (!live.has(k)) state.nodes.delete(k); });
    inner.replaceChildren(...out);
    if (stick) scrollToBottom(false);
    else if (!opts.keepScroll) el.scrollDown.classList.remove('hidden');
  }

  function emptyCard() {
    const c = h('div', 'empty-chat');
    c.appendChild(h('div', 'ec-emoji', '🤖'));
    c.appendChild(h('div', 'ec-title', t('emptyTitle')));
    c.appendChild(h('div', 'ec-text', t('emptyText')));
    const b = h('button', 'btn primary ec-start', t('start'));
    b.type = 'button';
    b.style.marginTop = '14px';
    b.addEventListener('click', () => sendText('/start'));
    c.appendChild(b);
    return c;
  }

  function buildMeta(m, overMedia) {
    const meta = h('span', 'meta' + (overMedia ? ' over-media' : ''));
    if (m.protect_content) {
      const lock = h('span', 'lock', '🔒');
      lock.title = t('protectedTip');
      meta.appendChild(lock);
    }
    if (m.edited) meta.appendChild(h('span', 'edited', t('edited')));
    const time = h('span', 'time', hhmm(m.date || Date.now() / 1000));
    if (m.date) time.title = fullWhen(m.date);
    meta.appendChild(time);
    if (m.from === 'user') {
      if (m._failed) {
        const s = h('span', 'pending');
        s.appendChild(svgIcon(ICON_ALERT));
        meta.appendChild(s);
      } else if (m._pending) {
        const s = h('span', 'pending');
        s.appendChild(svgIcon(ICON_CLOCK));
        meta.appendChild(s);
      } else {
        const s = h('span', 'ticks');
        s.appendChild(svgIcon(ICON_TICKS, '0 0 22 18'));
        meta.appendChild(s);
      }
    }
    return meta;
  }

  function docCard(name, url, size, protectedContent) {
    const card = h('div', 'doc-card');
    const ext = (/\.([a-z0-9]{1,5})$/i.exec(name || '') || [])[1] || '';
    const icon = h(url && !protectedContent ? 'a' : 'div', 'doc-icon' + (ext ? ' ext-' + ext.toLowerCase() : ''), ext ? ext.slice(0, 4) : '📄');
    const info = h('div', 'doc-info');
    const nm = h('div', 'doc-name', name || t('document'));
    nm.title = name || '';
    const sub = h('div', 'doc-sub');
    if (size != null) sub.appendChild(h('span', null, humanSize(size)));
    if (protectedContent) {
      sub.appendChild(h('span', 'no-save', '🔒 ' + t('noSave')));
    } else if (url) {
      const a = h('a', null, t('download'));
      a.href = url;
      a.download = name || '';
      a.target = '_blank';
      a.rel = 'noopener';
      sub.appendChild(a);
      icon.href = url;
      icon.download = name || '';
      icon.title = t('download');
    }
    info.append(nm, sub);
    card.append(icon, info);
    return card;
  }

  function buildMessage(m) {
    const out = m.from === 'user';
    const node = h('div', 'msg ' + (out ? 'out' : 'in'));
    node.dataset.mid = m._pending ? '' : m.message_id;
    if (m.protect_content) {
      node.classList.add('protected');
      node.title = t('protectedTip');
      node.addEventListener('contextmenu', (e) => e.preventDefault());
      node.addEventListener('copy', (e) => e.preventDefault());
      node.addEventListener('dragstart', (e) => e.preventDefault());
    }
    if (m._failed) node.classList.add('failed');
    const bubble = h('div', 'bubble');
    node.appendChild(bubble);
    const rich = hasRich(m);
    if (m.reply_to_message_id != null) bubble.appendChild(replyQuote(m));

    if (m.sticker) {
      node.classList.add('sticker');
      if (m.sticker.url) {
        const img = h('img', 'sticker-img');
        img.src = m.sticker.url;
        img.alt = m.sticker.emoji || t('sticker');
        img.draggable = false;
        img.addEventListener('load', onMediaLoad);
        bubble.appendChild(img);
      } else {
        bubble.appendChild(h('div', 'sticker-emoji', m.sticker.emoji || '🖼'));
      }
      node.appendChild(buildMeta(m, false));
    } else if (m.photo) {
      bubble.classList.add('has-photo');
      const wrap = h('div', 'photo-wrap');
      const url = m.photo.url || (Array.isArray(m.photo) && m.photo.length ? m.photo[m.photo.length - 1].url : null);
      if (url) {
        const img = h('img', 'photo');
        img.src = url;
        img.alt = t('photo');
        img.loading = 'lazy';
        img.draggable = !m.protect_content;
        img.addEventListener('load', onMediaLoad);
        img.addEventListener('error', () => { img.replaceWith(h('div', 'photo-fallback', '🖼 ' + t('photo'))); });
        img.addEventListener('click', () => openViewer(url, !!m.protect_content));
        wrap.appendChild(img);
      } else {
        wrap.appendChild(h('div', 'photo-fallback', '🖼 ' + t('photo')));
      }
      bubble.appendChild(wrap);
      if (rich) {
        const cap = richNode(m, 'caption text');
        cap.appendChild(buildMeta(m, false));
        bubble.appendChild(cap);
      } else {
        wrap.appendChild(buildMeta(m, true));
        node.classList.add('media-only');
      }
    } else if (m.document || m.video || m.audio || m.voice || m.animation || m.video_note) {
      const f = m.document || m.video || m.audio || m.voice || m.animation || m.video_note;
      const kind = m.document ? null : (m.video ? 'video' : m.audio ? 'audio' : m.voice ? 'voice' : m.animation ? 'animation' : 'video_note');
      const name = f.file_name || f.title || kind || t('document');
      bubble.appendChild(docCard(name, f.url, f.file_size, !!m.protect_content));
      if (rich) {
        const cap = richNode(m, 'caption text below-doc');
        cap.appendChild(buildMeta(m, false));
        bubble.appendChild(cap);
      } else {
        bubble.appendChild(buildMeta(m, false));
      }
    } else if (m.contact) {
      const c = m.contact;
      const card = h('div', 'contact-card');
      const av = h('div', 'avatar');
      paintAvatar(av, c, c.user_id || 0);
      const info = h('div');
      info.appendChild(h('div', 'contact-name', joinName(c.first_name, c.last_name) || t('contact')));
      info.appendChild(h('div', 'contact-phone', c.phone_number || c.phone || ''));
      card.append(av, info);
      bubble.appendChild(card);
      bubble.appendChild(buildMeta(m, false));
    } else if (m.location) {
      const box = h('div', 'text', '📍 ' + t('location') + '\n' + m.location.latitude + ', ' + m.location.longitude);
      box.appendChild(buildMeta(m, false));
      bubble.appendChild(box);
    } else {
      const box = rich ? richNode(m, 'text') : h('div', 'text unknown-media', t('unsupported'));
      box.appendChild(buildMeta(m, false));
      bubble.appendChild(box);
    }

    const ik = m.reply_markup && Array.isArray(m.reply_markup.inline_keyboard) ? m.reply_markup.inline_keyboard : null;
    if (ik && ik.length) node.appendChild(buildInlineKeyboard(m, ik));

    if (m._failed) {
      const r = h('div', 'fail-retry', t('sendFailed'));
      r.addEventListener('click', () => retryPending(m));
      node.appendChild(r);
    }
    return node;
  }

  function replyQuote(m) {
    const q = h('div', 'reply-quote');
    const target = state.msgs.get(m.reply_to_message_id);
    const who = target ? (target.from === 'bot' ? botDisplayName() : userName(currentUser()) || t('you')) : '';
    q.appendChild(h('div', 'rq-who', who || '…'));
    q.appendChild(h('div', 'rq-text', target ? previewOf(target) : t('deletedMessage')));
    q.addEventListener('click', () => {
      const n = state.nodes.get(m.reply_to_message_id);
      if (!n) return;
      n.el.scrollIntoView({ block: 'center', behavior: 'smooth' });
      n.el.classList.remove('flash');
      void n.el.offsetWidth;
      n.el.classList.add('flash');
    });
    return q;
  }

  function onMediaLoad() {
    if (state.stick) scrollToBottom(false);
  }

  function buildInlineKeyboard(m, rows) {
    const kb = h('div', 'inline-kb');
    rows.forEach((row) => {
      if (!Array.isArray(row) || !row.length) return;
      const r = h('div', 'kb-row');
      row.forEach((b) => {
        const btn = h('button', 'ikb-btn', b.text || '');
        btn.type = 'button';
        const link = b.url || (b.web_app && b.web_app.url) || (b.login_url && b.login_url.url);
        if (link) {
          const startPayload = parseStartLink(link);
          if (startPayload === null) {
            const ic = svgIcon(ICON_ARROW);
            ic.setAttribute('class', 'corner');
            btn.appendChild(ic);
          }
          btn.title = link;
        } else if (b.callback_data != null) {
          btn.title = 'callback_data: ' + b.callback_data;
        }
        btn.addEventListener('click', () => onInlineButton(m, b, btn));
        r.appendChild(btn);
      });
      kb.appendChild(r);
    });
    return kb;
  }

  async function onInlineButton(m, b, btn) {
    if (b.url) return openUrl(b.url);
    if (b.web_app && b.web_app.url) return openUrl(b.web_app.url);
    if (b.login_url && b.login_url.url) return openUrl(b.login_url.url);
    if (b.copy_text && b.copy_text.text != null) {
      if (await copyText(String(b.copy_text.text))) toast(t('copied'));
      return;
    }
    if (b.switch_inline_query_current_chat != null) {
      const u = state.bot && state.bot.username ? '@' + state.bot.username + ' ' : '';
      el.input.value = u + b.switch_inline_query_current_chat;
      autoGrow();
      el.input.focus();
      toast(t('inlineQueryUnsupported'));
      return;
    }
    if (b.callback_data == null) { toast(t('unsupportedButton')); return; }
    if (btn.classList.contains('loading')) return;
    btn.classList.add('loading');
    const uid = state.uid;
    try {
      const r = await api('POST', '/sandbox/users/' + encodeURIComponent(uid) + '/press',
        { message_id: m.message_id, data: b.callback_data });
      const a = r && r.answer;
      if (a && a.text) {
        if (a.show_alert) showAlert(a.text); else toast(a.text);
      }
      if (a && a.url) openUrl(a.url);
    } catch (e) {
      toastError(e);
    } finally {
      btn.classList.remove('loading');
    }
  }

  // ------------------------------------------------------------------ photo viewer
  function openViewer(url, prot) {
    el.viewerImg.src = url;
    el.viewer.classList.remove('hidden');
    el.viewerLock.classList.toggle('hidden', !prot);
    el.viewerOpen.classList.toggle('hidden', !!prot);
    el.viewerOpen.href = prot ? '#' : url;
    el.viewer.dataset.protected = prot ? '1' : '';
  }
  function closeViewer() {
    el.viewer.classList.add('hidden');
    el.viewerImg.removeAttribute('src');
  }

  // ------------------------------------------------------------------ header & composer state
  function renderHeader() {
    const u = currentUser();
    el.botName.textContent = botDisplayName();
    el.botAvatar.textContent = Array.from(botDisplayName())[0] || 'B';
    if (u) {
      paintAvatar(el.asUserAvatar, u, u.id);
      el.asUserName.textContent = userName(u);
      el.asUser.title = t('actingAs') + '\n' + [userName(u), u.username ? '@' + u.username : '', 'ID ' + u.id, u.phone || t('noPhone'), u.language_code || ''].filter(Boolean).join(' · ');
    } else if (state.uid) {
      el.asUserAvatar.textContent = '?';
      el.asUserName.textContent = 'ID ' + state.uid;
    }
    el.blockLabel.textContent = u && u.blocked ? t('unblockBot') : t('blockBot');
    renderHeaderSub();
  }
  let actionTimer = null;
  function setChatAction(action) {
    state.chatAction = action || null;
    clearTimeout(actionTimer);
    // sendChatAction lasts 5 s (or until the bot's next message)
    if (action) actionTimer = setTimeout(() => { state.chatAction = null; renderHeaderSub(); }, 5000);
    renderHeaderSub();
  }
  const ACTIONS = {
    typing: 'typing', upload_photo: 'uploadingPhoto', upload_document: 'uploadingDocument',
    choose_sticker: 'choosingSticker', record_voice: 'recordingVoice', upload_video: 'uploadingVideo',
    record_video: 'recordingVideo', find_location: 'findingLocation', upload_voice: 'uploadingVoice',
  };
  function renderHeaderSub() {
    const sub = el.chatSub;
    sub.className = 'chat-sub';
    if (!state.connOk) {
      sub.textContent = t('connecting');
      sub.classList.add('error');
      return;
    }
    if (state.chatAction) {
      sub.replaceChildren(h('span', 'typing-dots'), document.createTextNode(t(ACTIONS[state.chatAction] || 'typing')));
      sub.classList.add('online');
      return;
    }
    if (!state.bot) {
      sub.textContent = t('botNotConnected');
      return;
    }
    sub.textContent = (state.bot.username ? '@' + state.bot.username + ' · ' : '') + t('bot');
  }
  function renderComposerState() {
    const u = currentUser();
    const blocked = !!(u && u.blocked);
    el.blockedBar.classList.toggle('hidden', !blocked);
    el.inputRow.classList.toggle('hidden', blocked);
    if (blocked) el.replyKb.classList.add('hidden'); else renderReplyKb();
    renderHeader();
  }

  // ------------------------------------------------------------------ reply keyboard
  function setReplyKeyboard(kb) {
    const valid = kb && Array.isArray(kb.keyboard) && kb.keyboard.length ? kb : null;
    const sig = JSON.stringify(valid);
    if (sig === state.replyKbSig) return;
    state.replyKbSig = sig;
    state.replyKb = valid;
    state.kbHidden = false;
    renderReplyKb();
  }
  function renderReplyKb() {
    const kb = state.replyKb;
    const box = el.replyKb;
    el.kbToggle.classList.toggle('hidden', !kb);
    el.kbToggle.classList.toggle('active', !!kb && !state.kbHidden);
    el.input.placeholder = kb && kb.input_field_placeholder ? kb.input_field_placeholder : t('inputPlaceholder');
    const u = currentUser();
    if (!kb || state.kbHidden || (u && u.blocked)) { box.classList.add('hidden'); return; }
    box.replaceChildren();
    box.classList.toggle('tall', !kb.resize_keyboard);
    kb.keyboard.forEach((row) => {
      if (!Array.isArray(row) || !row.length) return;
      const r = h('div', 'rkb-row');
      row.forEach((b) => {
        const btnDef = typeof b === 'string' ? { text: b } : (b || {});
        const btn = h('button', 'rkb-btn', btnDef.text || '');
        btn.type = 'button';
        if (btnDef.request_contact) {
          btn.classList.add('contact');
          if (/\p{Extended_Pictographic}/u.test(btnDef.text || '')) btn.classList.add('has-emoji');
        }
        btn.addEventListener('click', () => onReplyButton(btnDef, btn));
        r.appendChild(btn);
      });
      box.appendChild(r);
    });
    box.classList.remove('hidden');
    if (state.stick) requestAnimationFrame(() => scrollToBottom(false));
  }

  async function onReplyButton(b, btnEl) {
    const uid = state.uid;
    if (!uid) return;
    const kb = state.replyKb;
    const text = b.text || '';
    const mid = kb && kb.message_id != null ? kb.message_id : null;
    if (kb && kb.one_time_keyboard) { state.kbHidden = true; renderReplyKb(); }
    if (b.request_contact) {
      const u = currentUser();
      if (u && !u.phone) {
        const ok = await askPhone(true);
        if (!ok) return;
      }
      btnEl.classList.add('loading');
      try {
        const body = { text };
        if (mid != null) body.message_id = mid;
        await api('POST', '/sandbox/users/' + encodeURIComponent(uid) + '/press', body);
      } catch (e) {
        if (e.status === 400 && await askPhone(true)) {
          try {
            await api('POST', '/sandbox/users/' + encodeURIComponent(uid) + '/contact', {});
          } catch (e2) { toastError(e2); }
        } else {
          toastError(e);
        }
      } finally {
        btnEl.classList.remove('loading');
      }
      return;
    }
    if (b.request_location || b.request_poll || b.request_users || b.request_user || b.request_chat || b.web_app) {
      if (b.web_app && b.web_app.url) { openUrl(b.web_app.url); return; }
    }
    const p = addPending({ text });
    try {
      const body = { text };
      if (mid != null) body.message_id = mid;
      const r = await api('POST', '/sandbox/users/' + encodeURIComponent(uid) + '/press', body);
      confirmPending(p, r && r.message_id);
    } catch (e) {
      failPending(p, e);
    }
  }

  // ------------------------------------------------------------------ sending
  function addPending(fields) {
    const n = ++state.pendingN;
    const m = Object.assign({ _pending: true, _n: n, _uid: state.uid, message_id: 'p' + n, from: 'user', date: Math.floor(Date.now() / 1000) }, fields);
    state.msgs.set('p' + n, m);
    state.stick = true;
    renderMessages({ animate: true, forceBottom: true });
    return m;
  }
  function absorbPending(m) {
    let found = null;
    state.msgs.forEach((p) => {
      if (found || !p._pending || p._failed || p._absorbed) return;
      const same = (p.text != null && p.text === m.text)
        || (p.photo && m.photo) || (p.document && m.document) || (p.sticker && m.sticker);
      if (same) found = p;
    });
    if (found) {
      found._absorbed = true;
      state.msgs.delete('p' + found._n);
    }
  }
  function confirmPending(p, mid) {
    if (state.uid !== p._uid) return;
    if (p._absorbed) return;
    state.msgs.delete('p' + p._n);
    if (mid != null && !state.msgs.has(mid)) {
      const real = Object.assign({}, p, { message_id: mid });
      delete real._pending;
      delete real._n;
      delete real._retry;
      state.msgs.set(mid, real);
    }
    renderMessages({ animate: false });
    renderUserList();
  }
  function failPending(p, e) {
    if (state.uid !== p._uid) return;
    const cur = state.msgs.get('p' + p._n);
    if (cur) {
      state.msgs.set('p' + p._n, Object.assign({}, cur, { _failed: true }));
      renderMessages({ keepScroll: true });
    }
    toastError(e);
  }
  function retryPending(m) {
    state.msgs.delete('p' + m._n);
    renderMessages({ keepScroll: true });
    if (m._retry) m._retry();
    else if (m.text != null) sendText(m.text);
  }

  async function sendText(text) {
    const uid = state.uid;
    if (!uid || !text || !text.trim()) return;
    const p = addPending({ text });
    try {
      const r = await api('POST', '/sandbox/users/' + encodeURIComponent(uid) + '/send', { text });
      confirmPending(p, r && r.message_id);
    } catch (e) {
      failPending(p, e);
    }
  }

  function submitInput() {
    const text = el.input.value;
    if (!text.trim()) return;
    el.input.value = '';
    if (state.uid) state.drafts.delete(state.uid);
    autoGrow();
    hideSuggest();
    sendText(text.replace(/\s+$/, ''));
  }

  async function sendSticker() {
    const uid = state.uid;
    if (!uid) return;
    const p = addPending({ sticker: { emoji: '👍' } });
    p._retry = sendSticker;
    try {
      const r = await api('POST', '/sandbox/users/' + encodeURIComponent(uid) + '/sticker', {});
      confirmPending(p, r && r.message_id);
    } catch (e) {
      failPending(p, e);
    }
  }

  async function shareContact() {
    const uid = state.uid;
    if (!uid) return;
    const u = currentUser();
    if (u && !u.phone) {
      if (!(await askPhone(true))) return;
    }
    try {
      await api('POST', '/sandbox/users/' + encodeURIComponent(uid) + '/contact', {});
    } catch (e) {
      if (e.status === 400 && (await askPhone(true))) {
        try { await api('POST', '/sandbox/users/' + encodeURIComponent(uid) + '/contact', {}); } catch (e2) { toastError(e2); }
      } else if (e.status !== 400) {
        toastError(e);
      }
    }
  }

  /** Ask for a phone number and save it on the current user. Resolves true when saved. */
  function askPhone(forSharing) {
    const u = currentUser();
    const m = el.phoneModal;
    m.querySelector('h2').textContent = forSharing ? t('phoneTitle') : t('editPhoneTitle');
    m.querySelector('[data-role="hint"]').textContent = forSharing ? t('phoneHint') : t('editPhoneHint');
    m.querySelector('[data-role="submit"]').textContent = forSharing ? t('saveAndShare') : t('save');
    m.elements.phone.value = (u && u.phone) || randomPhone();
    m.dataset.uid = state.uid;
    openModal('phoneModal');
    return new Promise((resolve) => { modalResolve = resolve; });
  }

  async function savePhone(ev) {
    ev.preventDefault();
    const m = el.phoneModal;
    const phone = normPhone(m.elements.phone.value);
    if (!phone) { modalError(m, t('phoneRequired')); return; }
    const uid = m.dataset.uid;
    const u = state.users.find((x) => String(x.id) === String(uid)) || { id: Number(uid) };
    const body = {
      id: u.id,
      first_name: u.first_name || '',
      last_name: u.last_name || '',
      username: u.username || '',
      language_code: u.language_code || state.lang,
      phone,
    };
    const btn = m.querySelector('[data-role="submit"]');
    btn.disabled = true;
    try {
      await api('POST', '/sandbox/users', body);
      u.phone = phone;
      await loadUsers();
      toast(t('phoneSaved'));
      closeModal(true);
    } catch (e) {
      modalError(m, t('error', e.message));
    } finally {
      btn.disabled = false;
    }
  }

  // ------------------------------------------------------------------ uploads
  let uploadState = null;
  function openUpload(file, kind) {
    if (!state.uid || !file) return;
    if (kind === 'photo' && !/^image\//.test(file.type)) kind = 'document';
    const m = el.uploadModal;
    uploadState = { file, kind, uid: state.uid, url: null };
    m.querySelector('[data-role="title"]').textContent = kind === 'photo' ? t('sendPhotoTitle') : t('sendDocTitle');
    const prev = m.querySelector('[data-role="preview"]');
    prev.replaceChildren();
    if (kind === 'photo') {
      uploadState.url = URL.createObjectURL(file);
      const img = h('img');
      img.src = uploadState.url;
      prev.appendChild(img);
    } else {
      prev.appendChild(docCard(file.name, null, file.size, false));
    }
    m.elements.caption.value = '';
    openModal('uploadModal');
    setTimeout(() => m.elements.caption.focus(), 40);
  }

  async function submitUpload(ev) {
    ev.preventDefault();
    const us = uploadState;
    if (!us) return;
    uploadState = null;
    const caption = el.uploadModal.elements.caption.value;
    closeModal();
    if (state.uid !== us.uid) return;
    const fields = { caption: caption || undefined };
    if (us.kind === 'photo') fields.photo = { url: us.url || URL.createObjectURL(us.file) };
    else fields.document = { file_name: us.file.name, file_size: us.file.size };
    const doSend = async () => {
      const p = addPending(fields);
      p._retry = doSend;
      const fd = new FormData();
      fd.append('file', us.file, us.file.name);
      if (caption) fd.append('caption', caption);
      try {
        const r = await api('POST', '/sandbox/users/' + encodeURIComponent(us.uid) + '/' + us.kind, fd);
        confirmPending(p, r && r.message_id);
      } catch (e) {
        failPending(p, e);
      }
    };
    doSend();
  }

  // ------------------------------------------------------------------ commands menu
  async function loadCommands(uid) {
    try {
      let d;
      try {
        d = await api('GET', '/sandbox/users/' + encodeURIComponent(uid) + '/commands');
      } catch (e) {
        if (e.status !== 404 && e.status !== 405) throw e;
        d = await api('GET', '/sandbox/commands?user_id=' + encodeURIComponent(uid));
      }
      if (state.uid !== uid) return;
      state.commands = Array.isArray(d.commands) ? d.commands.filter((c) => c && c.command) : [];
    } catch (_) {
      if (state.uid !== uid) return;
      state.commands = [];
    }
    state.commandsFor = uid;
    renderCommands();
  }
  function renderCommands() {
    const has = state.commands.length > 0;
    el.cmdBtn.classList.toggle('hidden', !has);
    el.cmdMenu.replaceChildren();
    state.commands.forEach((c) => {
      el.cmdMenu.appendChild(commandItem(c, () => { closeMenus(); sendText('/' + c.command); }));
    });
  }
  function commandItem(c, onClick) {
    const b = h('button', 'cmd-item');
    b.type = 'button';
    b.appendChild(h('span', 'c-name', '/' + c.command));
    b.appendChild(h('span', 'c-desc', c.description || ''));
    b.addEventListener('mousedown', (e) => e.preventDefault());
    b.addEventListener('click', onClick);
    return b;
  }
  function suggestions() {
    const v = el.input.value;
    const m = /^\/([a-zA-Z0-9_]*)$/.exec(v);
    if (!m || !state.commands.length) return [];
    const q = m[1].toLowerCase();
    return state.commands.filter((c) => c.command.toLowerCase().startsWith(q));
  }
  function renderSuggest() {
    const list = suggestions();
    const box = el.cmdSuggest;
    if (!list.length) { hideSuggest(); return; }
    state.suggestSel = Math.min(state.suggestSel, list.length - 1);
    box.replaceChildren();
    list.forEach((c, i) => {
      const item = commandItem(c, () => { hideSuggest(); el.input.value = ''; autoGrow(); sendText('/' + c.command); });
      if (i === state.suggestSel) item.classList.add('sel');
      box.appendChild(item);
    });
    box.classList.remove('hidden');
  }
  function hideSuggest() {
    el.cmdSuggest.classList.add('hidden');
    state.suggestSel = 0;
  }

  // ------------------------------------------------------------------ new user
  function openNewUser() {
    const f = el.newUserModal;
    f.reset();
    if (state.lang === 'zh') {
      f.elements.first_name.value = pick(ZH_NAMES);
      f.elements.last_name.value = '';
    } else {
      const n = pick(EN_NAMES);
      f.elements.first_name.value = n[0];
      f.elements.last_name.value = n[1];
    }
    f.elements.first_name.placeholder = state.lang === 'zh' ? '王芳' : 'Alice';
    f.elements.language_code.value = state.lang;
    f.elements.phone.value = randomPhone();
    openModal('newUserModal');
  }
  async function submitNewUser(ev) {
    ev.preventDefault();
    const f = el.newUserModal;
    const first = f.elements.first_name.value.trim();
    if (!first) { modalError(f, t('nameRequired')); return; }
    const body = { first_name: first, language_code: f.elements.language_code.value };
    const last = f.elements.last_name.value.trim();
    const uname = f.elements.username.value.trim().replace(/^@/, '');
    const phone = normPhone(f.elements.phone.value);
    if (last) body.last_name = last;
    if (uname) body.username = uname;
    if (phone) body.phone = phone;
    const btn = f.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      const r = await api('POST', '/sandbox/users', body);
      await loadUsers();
      closeModal();
      if (r && r.id != null) selectUser(r.id);
    } catch (e) {
      modalError(f, t('error', e.message));
    } finally {
      btn.disabled = false;
    }
  }

  async function toggleBlock() {
    const u = currentUser();
    if (!u) return;
    const action = u.blocked ? 'unblock' : 'block';
    try {
      await api('POST', '/sandbox/users/' + encodeURIComponent(u.id) + '/' + action, {});
      u.blocked = !u.blocked;
      state.usersSig = '';
      renderComposerState();
      renderUserList();
      toast(u.blocked ? t('blockedToast') : t('unblockedToast'));
      loadUsers();
    } catch (e) {
      toastError(e);
    }
  }

  function reloadChat() {
    const uid = state.uid;
    if (!uid) return;
    state.uid = null;
    selectUser(uid, true);
  }

  // ------------------------------------------------------------------ input box
  function autoGrow() {
    const i = el.input;
    i.style.height = 'auto';
    i.style.height = Math.min(i.scrollHeight, 180) + 'px';
    el.sendBtn.disabled = !i.value.trim();
  }

  // ------------------------------------------------------------------ events
  function bind() {
    document.querySelectorAll('.lang-btn').forEach((b) => b.addEventListener('click', () => setLang(b.dataset.lang)));
    el.userSearch.addEventListener('input', renderUserList);

    document.addEventListener('click', (ev) => {
      const a = ev.target.closest('[data-action]');
      if (a) {
        const act = a.dataset.action;
        switch (act) {
          case 'new-user': openNewUser(); break;
          case 'close-modal': closeModal(false); break;
          case 'share-contact': closeMenus(); shareContact(); break;
          case 'edit-phone': closeMenus(); askPhone(false); break;
          case 'copy-id': closeMenus(); if (state.uid) copyText(String(state.uid)).then(() => toast(t('copiedId', state.uid))); break;
          case 'reload-chat': closeMenus(); reloadChat(); break;
          case 'toggle-block': closeMenus(); toggleBlock(); break;
          case 'pick-photo': closeMenus(); el.photoInput.value = ''; el.photoInput.click(); break;
          case 'pick-document': closeMenus(); el.docInput.value = ''; el.docInput.click(); break;
          case 'send-sticker': closeMenus(); sendSticker(); break;
          case 'close-viewer': closeViewer(); break;
          default: break;
        }
        return;
      }
      // links inside messages: bot commands and t.me start links
      const link = ev.target.closest('.messages a');
      if (link) {
        if (link.dataset.command) {
          ev.preventDefault();
          sendText(link.dataset.command);
        } else if (link.href && parseStartLink(link.href) !== null) {
          ev.preventDefault();
          openUrl(link.href);
        }
        return;
      }
      if (!ev.target.closest('.menu-wrap')) closeMenus();
    });

    el.chatMenuBtn.addEventListener('click', (e) => { e.stopPropagation(); toggleMenu(el.chatMenu); });
    el.attachBtn.addEventListener('click', (e) => { e.stopPropagation(); toggleMenu(el.attachMenu); });
    el.cmdBtn.addEventListener('click', (e) => { e.stopPropagation(); toggleMenu(el.cmdMenu); });
    el.backBtn.addEventListener('click', () => selectUser(null));
    el.kbToggle.addEventListener('click', () => { state.kbHidden = !state.kbHidden; renderReplyKb(); });
    el.sendBtn.addEventListener('click', submitInput);
    el.scrollDown.addEventListener('click', () => scrollToBottom(true));
    el.messages.addEventListener('scroll', () => {
      state.stick = isNearBottom();
      el.scrollDown.classList.toggle('hidden', state.stick);
    }, { passive: true });

    el.input.addEventListener('input', () => { autoGrow(); state.suggestSel = 0; renderSuggest(); });
    el.input.addEventListener('keydown', (e) => {
      const sugOpen = !el.cmdSuggest.classList.contains('hidden');
      if (sugOpen && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
        e.preventDefault();
        const n = suggestions().length;
        state.suggestSel = (state.suggestSel + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
        renderSuggest();
        return;
      }
      if (sugOpen && e.key === 'Tab') {
        e.preventDefault();
        const c = suggestions()[state.suggestSel];
        if (c) { el.input.value = '/' + c.command + ' '; autoGrow(); hideSuggest(); }
        return;
      }
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        if (sugOpen) {
          const c = suggestions()[state.suggestSel];
          if (c) { el.input.value = ''; autoGrow(); hideSuggest(); sendText('/' + c.command); return; }
        }
        submitInput();
      }
      if (e.key === 'Escape') hideSuggest();
    });
    el.input.addEventListener('blur', () => setTimeout(hideSuggest, 150));
    el.input.addEventListener('paste', (e) => {
      const items = e.clipboardData ? Array.from(e.clipboardData.files || []) : [];
      if (items.length) {
        e.preventDefault();
        const f = items[0];
        openUpload(f, /^image\//.test(f.type) ? 'photo' : 'document');
      }
    });

    el.photoInput.addEventListener('change', () => { if (el.photoInput.files[0]) openUpload(el.photoInput.files[0], 'photo'); });
    el.docInput.addEventListener('change', () => { if (el.docInput.files[0]) openUpload(el.docInput.files[0], 'document'); });

    el.newUserModal.addEventListener('submit', submitNewUser);
    el.phoneModal.addEventListener('submit', savePhone);
    el.uploadModal.addEventListener('submit', submitUpload);
    el.modalBackdrop.addEventListener('mousedown', (e) => { if (e.target === el.modalBackdrop) closeModal(false); });

    el.viewer.addEventListener('click', (e) => { if (e.target === el.viewer) closeViewer(); });
    el.viewer.addEventListener('contextmenu', (e) => { if (el.viewer.dataset.protected) e.preventDefault(); });
    el.viewerImg.addEventListener('dragstart', (e) => { if (el.viewer.dataset.protected) e.preventDefault(); });

    document.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape') return;
      if (!el.viewer.classList.contains('hidden')) closeViewer();
      else if (!el.modalBackdrop.classList.contains('hidden')) closeModal(false);
      else closeMenus();
    });

    // drag & drop
    let dragDepth = 0;
    el.chat.addEventListener('dragenter', (e) => {
      if (!state.uid || !e.dataTransfer || !Array.from(e.dataTransfer.types || []).includes('Files')) return;
      e.preventDefault();
      dragDepth++;
      el.dropOverlay.classList.remove('hidden');
    });
    el.chat.addEventListener('dragleave', () => {
      dragDepth = Math.max(0, dragDepth - 1);
      if (!dragDepth) el.dropOverlay.classList.add('hidden');
    });
    el.chat.addEventListener('dragover', (e) => {
      if (el.dropOverlay.classList.contains('hidden')) return;
      e.preventDefault();
      el.dropOverlay.querySelectorAll('.drop-zone').forEach((z) => z.classList.toggle('over', z.contains(e.target)));
    });
    el.chat.addEventListener('drop', (e) => {
      if (el.dropOverlay.classList.contains('hidden')) return;
      e.preventDefault();
      dragDepth = 0;
      el.dropOverlay.classList.add('hidden');
      const f = e.dataTransfer.files && e.dataTransfer.files[0];
      if (!f) return;
      const zone = e.target.closest && e.target.closest('.drop-zone');
      const kind = zone ? zone.dataset.zone : (/^image\//.test(f.type) ? 'photo' : 'document');
      openUpload(f, kind);
    });

    window.addEventListener('hashchange', () => {
      const uid = hashUid();
      if (uid !== state.uid) selectUser(uid, true);
    });
    document.addEventListener('visibilitychange', () => { if (!document.hidden) { loadUsers(); refreshOthers(); } });
  }

  // ------------------------------------------------------------------ boot
  async function boot() {
    bind();
    applyLang();
    autoGrow();
    await Promise.all([loadInfo(), loadUsers()]);
    const uid = hashUid();
    if (uid) selectUser(uid, true);
    refreshOthers();
    setInterval(() => { if (!document.hidden) loadUsers(); }, 5000);
    setInterval(() => { if (!state.bot) loadInfo(); }, 4000);
    setInterval(() => { refreshOthers(); }, 12000);
    setInterval(() => {
      // keep "today/yesterday" labels right across midnight
      if (state.uid && state.loaded) renderMessages({ keepScroll: true });
    }, 10 * 60 * 1000);
  }

  boot();
})();
