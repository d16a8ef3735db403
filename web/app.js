// The smolchat web client: the line protocol of docs/PROTOCOL.md over a WebSocket at /ws,
// one text message per line each way.
//
// Plain modern JavaScript, no framework and no build step. Every piece of text that comes
// from the network reaches the page through textContent or a text node, never as HTML, and
// the page runs under a Content-Security-Policy without inline scripts or styles.
'use strict';

/** How many lines each room keeps on screen; older ones are dropped. */
const MAX_LINES = 1000;
/** The first and the longest wait before reconnecting, in milliseconds. */
const BACKOFF_FIRST = 1000;
const BACKOFF_MAX = 30000;
/** Error codes that answer a nickname during registration. */
const NICK_ERRORS = new Set(['nick-taken', 'nick-confusable', 'nick-invalid', 'nick-too-long']);
/** Error codes that may answer a /history. */
const HISTORY_ERRORS = new Set(['no-such-room', 'usage', 'not-identified', 'no-account']);
/** The key of the buffer shown when you are in no room. */
const SERVER = '';
/** The share of the server's flood rate the page uses, and of its burst (see `pace`). */
const RATE_SHARE = 0.8;
const BURST_SHARE = 0.5;
/** Commands whose line holds a password: never kept for the up arrow. */
const SECRET_COMMANDS = new Set(['/register', '/identify']);

// ---------------------------------------------------------------------------------------
// Names

/**
 * The key two names are compared by: NFKC and case folding, close to the server's
 * NFKC_Casefold (upper then lower case folds `ß` to `ss` and `ς` to `σ`).
 */
function fold(name) {
  return name.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');
}

/** Whether `a` and `b` are the same name. */
function same(a, b) {
  return a != null && b != null && fold(a) === fold(b);
}

/** A stable colour class per nickname, the same whatever its letter case (FNV-1a). */
function nickClass(nick) {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(fold(nick))) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return `nick-c${hash % 12}`;
}

// ---------------------------------------------------------------------------------------
// Lines

/**
 * Splits `line` into `n` fields: `n - 1` words separated by one space, and the rest of the
 * line (which may hold spaces, or be empty).
 */
function fields(line, n) {
  const out = [];
  let rest = line;
  while (out.length < n - 1 && rest !== null) {
    const space = rest.indexOf(' ');
    if (space < 0) {
      out.push(rest);
      rest = null;
    } else {
      out.push(rest.slice(0, space));
      rest = rest.slice(space + 1);
    }
  }
  while (out.length < n - 1) out.push('');
  out.push(rest ?? '');
  return out;
}

// ---------------------------------------------------------------------------------------
// The page's elements

const $ = (id) => document.getElementById(id);
const ui = {
  app: $('app'),
  drawer: $('drawer'),
  drawerToggle: $('drawer-toggle'),
  drawerUnread: $('drawer-unread'),
  titleRoom: $('title-room'),
  topic: $('topic'),
  status: $('status'),
  rooms: $('rooms'),
  privates: $('privates'),
  privatesHeading: $('privates-heading'),
  joinForm: $('join-form'),
  joinInput: $('join-input'),
  members: $('members'),
  memberCount: $('member-count'),
  part: $('part'),
  log: $('log'),
  error: $('error'),
  sayForm: $('say-form'),
  sayInput: $('say-input'),
  prompt: $('prompt'),
  nickForm: $('nick-form'),
  promptLabel: $('prompt-label'),
  nickInput: $('nick-input'),
  nickError: $('nick-error'),
  promptHint: $('prompt-hint'),
};

/** Makes an element with a class and, optionally, text (always as text). */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

// ---------------------------------------------------------------------------------------
// State

/**
 * A buffer: one room, one private conversation, or the server itself. Each has its own
 * list of lines in the log, an entry in the side list and an unread count.
 */
class Buffer {
  constructor(kind, name) {
    /** 'room', 'private' or 'server'. */
    this.kind = kind;
    /** The name as the server writes it: `#lobby`, a nickname, or '' for the server. */
    this.name = name;
    /** Its lines, shown while it is the buffer in view. */
    this.list = el('ol', 'lines');
    // `*` for the server: no room or nickname is spelled so.
    this.list.dataset.buffer = kind === 'server' ? '*' : name;
    this.list.hidden = true;
    ui.log.append(this.list);
    /** Nicknames in the room, by folded nickname. */
    this.members = new Map();
    /** Talk shown live since you last joined the room: what its next replay may repeat. */
    this.live = [];
    /**
     * While the room replays its history after you joined: the talk seen live before,
     * not matched yet, and the lines that have matched a replayed line (each matches one).
     */
    this.unmatched = [];
    this.matched = new Set();
    /** The room's topic text ('' for none) and who set it. */
    this.topic = '';
    this.topicBy = '';
    /** Whether you are in the room now (false after a lost connection, until rejoined). */
    this.joined = false;
    /** Talk that arrived while it was not in view. */
    this.unread = 0;
    /** Whether that talk mentioned you. */
    this.mentioned = false;
    /** Where the log was scrolled to when it was last in view (null: at the bottom). */
    this.scroll = null;
    /** Its entry in the side list (none for the server): the item, its button, the name
     * and the unread count on it. */
    this.entry = null;
    this.button = null;
    this.label = null;
    this.badge = null;
    if (kind !== 'server') this.makeEntry();
  }

  get key() {
    return key(this.kind, this.name);
  }

  makeEntry() {
    const item = el('li');
    const button = el('button', 'entry');
    button.type = 'button';
    button.dataset.testid = this.kind === 'room' ? 'room' : 'private';
    button.dataset.name = this.name;
    if (this.kind === 'room') button.dataset.room = this.name;
    const label = el('span', 'entry-name', this.name);
    if (this.kind === 'private') label.classList.add(nickClass(this.name));
    this.badge = el('span', 'unread');
    this.badge.dataset.testid = 'unread';
    this.badge.hidden = true;
    button.append(label, this.badge);
    button.addEventListener('click', () => {
      select(this);
      closeDrawer();
    });
    item.append(button);
    this.entry = item;
    this.button = button;
    this.label = label;
    (this.kind === 'room' ? ui.rooms : ui.privates).append(item);
  }

  /** Gives the buffer a new name (a private conversation whose partner was renamed). */
  rename(name) {
    this.name = name;
    this.list.dataset.buffer = name;
    this.button.dataset.name = name;
    this.label.textContent = name;
    this.label.className = `entry-name ${nickClass(name)}`;
  }

  /** Shows the unread count on its entry. */
  showUnread() {
    if (!this.badge) return;
    this.badge.textContent = String(this.unread);
    this.badge.hidden = this.unread === 0;
    this.button.classList.toggle('mentioned', this.mentioned && this.unread > 0);
    this.button.classList.toggle('away', this.kind === 'room' && !this.joined);
  }

  /** Takes it off the page. */
  remove() {
    this.list.remove();
    this.entry?.remove();
  }
}

/** The map key of a buffer. */
function key(kind, name) {
  if (kind === 'server') return SERVER;
  return (kind === 'room' ? '' : '@') + fold(name);
}

/** The nickname used last in this browser, to offer it again. */
function recall() {
  try {
    return localStorage.getItem('smolchat.nick') ?? '';
  } catch {
    return '';
  }
}

function remember(nick) {
  try {
    localStorage.setItem('smolchat.nick', nick);
  } catch {
    // Storage may be off (private windows); the prompt is merely empty next time.
  }
}

const state = {
  /** The socket, while there is one. */
  ws: null,
  /** Your nickname once registered (and kept across a reconnect, to register again). */
  me: null,
  /** Whether the server has welcomed this connection. */
  registered: false,
  /** Between WELCOME and the ROOM line that ends registration. */
  landing: false,
  /** What the server last asked for during registration: 'pass', 'nick' or null. */
  asked: null,
  /** The nickname and password to answer with, and whether to answer without asking. */
  nick: recall(),
  password: null,
  autoNick: false,
  autoPassword: false,
  /** The server's last refusal of a nickname or password, and advice about it, for the prompt. */
  refusal: '',
  hint: '',
  /** The room plain text goes to, as the server last said with ROOM (null: none). */
  current: null,
  /** Every buffer by key, in the order made. */
  buffers: new Map(),
  /** The buffer in view. */
  view: null,
  /**
   * Rooms to join again after a reconnect (`rooms`, their names), the one that was current
   * (`current`, null for none), and whether the joins are sent (`sent`). Kept until the
   * server has answered them all, so that a connection lost again before then still knows
   * every room; the rooms you join or leave meanwhile are added to it or taken off it.
   */
  rejoin: null,
  /** Reconnection: attempts since the last welcome, the pending timer, its deadline. */
  attempt: 0,
  retryTimer: null,
  retryAt: 0,
  countdown: null,
  /** Set by `/quit`: do not reconnect. */
  quitting: false,
  /** Set by a typed `/join` or `/part`: the next ROOM line is shown even from a private view. */
  followRoom: false,
  /** Said in the room the server makes current next (after leaving the one in view). */
  afterRoom: null,
  /** Lines for the room registration lands in, heard before its ROOM line: [kind, text]. */
  afterLanding: [],
  /** NAMES answers to show in the log (those typed as /names or /who), not only in the list. */
  namesAsked: 0,
  /** Replays typed as /history: their buffer is put in view when they end. */
  historyAsked: 0,
  /** Lines typed, for the up and down arrows. */
  history: [],
  historyAt: 0,
};

/** The buffer of `kind` and `name`, made if it does not exist yet. */
function buffer(kind, name) {
  const k = key(kind, name);
  let found = state.buffers.get(k);
  if (!found) {
    found = new Buffer(kind, name);
    state.buffers.set(k, found);
    if (kind === 'private') ui.privatesHeading.hidden = false;
  }
  return found;
}

/** The buffer of a room, if there is one. */
function roomBuffer(name) {
  return state.buffers.get(key('room', name)) ?? null;
}

/** The room buffers, in the order they appear in the side list. */
function rooms() {
  return [...state.buffers.values()].filter((b) => b.kind === 'room');
}

// ---------------------------------------------------------------------------------------
// The log

/** The local time of day, as `14:05`. */
function clock(date) {
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
}

/** When a replayed line was said: `14:05` today, with the day in front on another day. */
function when(date) {
  const today = new Date().toDateString() === date.toDateString();
  if (today) return clock(date);
  return `${date.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${clock(date)}`;
}

/** Appends `text` to `parent`, with http(s) addresses as links; all of it as text. */
function appendText(parent, text) {
  const pattern = /\bhttps?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]'}]/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    let url = null;
    try {
      url = new URL(match[0]);
    } catch {
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
    parent.append(document.createTextNode(text.slice(last, match.index)));
    const link = el('a', null, match[0]);
    link.href = url.href;
    link.target = '_blank';
    link.rel = 'noopener noreferrer';
    parent.append(link);
    last = match.index + match[0].length;
  }
  parent.append(document.createTextNode(text.slice(last)));
}

/**
 * Adds a line to `buf`: `kind` is 'msg', 'action', 'notice', 'event' (joins, leaves,
 * renames: dimmed), 'info', 'warn' or 'error'; `nick` (or null) is who it is from. In
 * `extra`, `private` marks a private conversation's talk, and `at` (a Date) a line said
 * before and replayed: shown dimmed, with when it was said, and never counted as unread.
 */
function addLine(buf, kind, nick, text, extra = {}) {
  const atBottom = buf === state.view && isAtBottom();
  const replayed = extra.at != null;
  // Rejoining after a reconnect replays what was seen live: shown once is enough.
  if (replayed && state.historyAsked === 0 && shownAlready(buf, kind, nick, text, extra.at)) {
    return;
  }
  const at = extra.at ?? new Date();
  const line = el('li', `line line-${kind}`);
  line.dataset.kind = kind;
  if (extra.private) line.classList.add('line-private');
  if (replayed) {
    line.classList.add('line-history');
    line.dataset.said = String(at.getTime());
  }
  const time = el('time', 'time', replayed ? when(at) : clock(at));
  time.dateTime = at.toISOString();
  time.title = at.toLocaleString();
  line.append(time);
  if (nick != null) {
    line.dataset.from = nick;
    const who = el('span', `nick ${nickClass(nick)}`, nick);
    if (same(nick, state.me)) who.classList.add('me');
    line.append(who);
  }
  const body = el('span', 'text');
  body.dataset.testid = 'text';
  appendText(body, text);
  line.append(body);
  const talk = (kind === 'msg' || kind === 'action' || kind === 'notice') && !replayed;
  const mention = talk && nick != null && !same(nick, state.me) && mentions(text);
  if (mention) line.classList.add('mention');
  append(buf, line);
  // Only talk seen live: a replayed line has its time, by which later replays match it.
  if (talk && nick != null && !replayed) {
    buf.live.push(line);
    if (buf.live.length > MAX_LINES) buf.live.shift();
  }

  // Unread talk, counted for buffers out of view (or all of them while the tab is hidden).
  if (talk && nick != null && !same(nick, state.me) && (buf !== state.view || document.hidden)) {
    buf.unread += 1;
    buf.mentioned ||= mention || buf.kind === 'private';
    buf.showUnread();
    showTotals();
  }
  if (atBottom) scrollToBottom();
}

/**
 * Whether `buf` already shows this replayed talk from `nick`, said at `at`: a line replayed
 * before with the same time (`data-said`), or one seen live since you last joined the
 * room before this one, the earliest such. Either matches one replayed line at most, and
 * a live line that matched takes its time, to be matched by it in later replays. Talk
 * seen live before that earlier join was in its replay or is older than it, so it cannot
 * be this.
 */
function shownAlready(buf, kind, nick, text, at) {
  const said = String(at.getTime());
  const sameTalk = (line) =>
    line.dataset.kind === kind &&
    line.dataset.from === nick &&
    line.querySelector('.text')?.textContent === text;
  for (const line of buf.list.children) {
    if (line.dataset.said === said && !buf.matched.has(line) && sameTalk(line)) {
      buf.matched.add(line);
      return true;
    }
  }
  const live = buf.unmatched.findIndex(
    (line) => !buf.matched.has(line) && !line.dataset.said && sameTalk(line),
  );
  if (live < 0) return false;
  const [line] = buf.unmatched.splice(live, 1);
  line.dataset.said = said;
  buf.matched.add(line);
  return true;
}

/** Appends `item` to `buf`'s lines, dropping the oldest beyond MAX_LINES. */
function append(buf, item) {
  buf.list.append(item);
  while (buf.list.childElementCount > MAX_LINES) buf.list.firstElementChild.remove();
}

/**
 * The rule between replayed lines and live ones: only the latest one in a buffer stays,
 * so it always marks where what is new begins.
 */
function addSeparator(buf, text) {
  const atBottom = buf === state.view && isAtBottom();
  for (const old of buf.list.querySelectorAll('.separator')) old.remove();
  const rule = el('li', 'separator');
  rule.setAttribute('role', 'separator');
  rule.dataset.kind = 'separator';
  rule.append(el('span', 'separator-text', text));
  append(buf, rule);
  if (atBottom) scrollToBottom();
}

/** Whether a typed line holds a password (`/register ...`, `/identify ...`). */
function holdsSecret(text) {
  const [word] = text.trimStart().split(/\s+/, 1);
  return SECRET_COMMANDS.has(word.toLowerCase());
}

/** Whether `text` names you as a word. */
function mentions(text) {
  if (!state.me) return false;
  const me = fold(state.me);
  return fold(text)
    .split(/[^\p{L}\p{M}\p{N}_\-[\]\\`^{}|]+/u)
    .some((word) => word === me);
}

/** A line for whichever buffer is in view. */
function note(kind, text) {
  addLine(state.view, kind, null, text);
}

/** A line for the buffer in view, or, while registering, for the room it lands in. */
function soon(kind, text) {
  if (state.landing) state.afterLanding.push([kind, text]);
  else note(kind, text);
}

/** A line for every room buffer (connection news). */
function noteEverywhere(kind, text) {
  const bufs = new Set([...state.buffers.values()].filter((b) => b.kind !== 'private'));
  bufs.add(state.view);
  for (const buf of bufs) addLine(buf, kind, null, text);
}

function isAtBottom() {
  return ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40;
}

function scrollToBottom() {
  ui.log.scrollTop = ui.log.scrollHeight;
}

/** Shows the refusal of something you typed under the input, until you type again. */
function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = false;
}

function clearError() {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

// ---------------------------------------------------------------------------------------
// The view

/**
 * Puts `buf` in view, as a click does. A room is made the current one on the server too
 * (joined again if need be), and its people asked for.
 */
function select(buf) {
  if (buf.kind === 'room' && state.registered) {
    if (!buf.joined || !same(buf.name, state.current)) send(`/join ${buf.name}`);
    if (buf.joined) send(`/names ${buf.name}`);
  }
  show(buf);
}

/** Shows `buf` (without a word to the server). */
function show(buf) {
  const old = state.view;
  if (old === buf) {
    showHeader();
    showMembers();
    return;
  }
  if (old) {
    old.scroll = isAtBottom() ? null : ui.log.scrollTop;
    old.list.hidden = true;
    old.button?.removeAttribute('aria-current');
  }
  state.view = buf;
  buf.list.hidden = false;
  buf.button?.setAttribute('aria-current', 'true');
  buf.unread = 0;
  buf.mentioned = false;
  buf.showUnread();
  showTotals();
  showHeader();
  showMembers();
  if (buf.scroll == null) scrollToBottom();
  else ui.log.scrollTop = buf.scroll;
}

/** The header: the buffer's name and topic. */
function showHeader() {
  const buf = state.view;
  ui.titleRoom.textContent = buf.kind === 'server' ? 'smolchat' : buf.name;
  ui.titleRoom.className = buf.kind === 'private' ? nickClass(buf.name) : '';
  let topic = '';
  if (buf.kind === 'room') topic = buf.topic;
  else if (buf.kind === 'private') topic = `private conversation with ${buf.name}`;
  else if (state.registered) topic = 'you are in no room: join one';
  ui.topic.textContent = topic;
  ui.topic.title = buf.kind === 'room' && buf.topicBy ? `set by ${buf.topicBy}` : '';
  ui.topic.hidden = topic === '';
}

/** The people of the buffer in view, sorted as the server sorts them. */
function showMembers() {
  const buf = state.view;
  let nicks = [];
  if (buf.kind === 'room') nicks = [...buf.members.values()];
  else if (buf.kind === 'private' && state.me) nicks = [state.me, buf.name];
  nicks.sort((a, b) => (fold(a) < fold(b) ? -1 : fold(a) > fold(b) ? 1 : 0));
  const items = nicks.map((nick) => {
    const item = el('li');
    const button = el('button', `member ${nickClass(nick)}`, nick);
    button.type = 'button';
    button.dataset.nick = nick;
    if (same(nick, state.me)) {
      button.classList.add('me');
      button.disabled = true;
    } else {
      button.title = `talk privately with ${nick}`;
      button.addEventListener('click', () => {
        select(buffer('private', nick));
        closeDrawer();
        ui.sayInput.focus();
      });
    }
    item.append(button);
    return item;
  });
  ui.members.replaceChildren(...items);
  ui.memberCount.textContent = nicks.length ? String(nicks.length) : '';
  ui.part.hidden = buf.kind === 'server' || (buf.kind === 'room' && !buf.joined);
  ui.part.textContent = buf.kind === 'room' ? `Leave ${buf.name}` : 'Close conversation';
}

/** The total unread count: in the title, and on the drawer button for narrow screens. */
function showTotals() {
  let total = 0;
  for (const buf of state.buffers.values()) total += buf.unread;
  document.title = total ? `(${total}) smolchat` : 'smolchat';
  ui.drawerUnread.textContent = String(total);
  ui.drawerUnread.hidden = total === 0;
}

/** The connection status in the header: `state` is a word for the stylesheet. */
function setStatus(stateName, text) {
  ui.status.dataset.state = stateName;
  ui.status.textContent = text;
  ui.status.title = stateName === 'offline' && !state.quitting ? 'click to reconnect now' : '';
}

function closeDrawer() {
  ui.app.classList.remove('drawer-open');
  ui.drawerToggle.setAttribute('aria-expanded', 'false');
}

// ---------------------------------------------------------------------------------------
// The nickname (and password) prompt

/** Shows the prompt for `what` ('nick' or 'pass'), with the last refusal under it. */
function showPrompt(what) {
  const pass = what === 'pass';
  ui.nickError.textContent = state.refusal;
  ui.nickError.hidden = state.refusal === '';
  ui.promptHint.textContent = state.hint;
  if (!ui.prompt.hidden && ui.nickForm.dataset.shown === what) {
    // Asked again: keep what was typed, so it can be corrected.
    ui.nickInput.focus();
    return;
  }
  ui.promptLabel.textContent = pass ? 'Server password' : 'Choose a nickname';
  ui.nickInput.type = pass ? 'password' : 'text';
  ui.nickInput.autocomplete = pass ? 'current-password' : 'nickname';
  ui.nickForm.dataset.asking = what;
  ui.nickInput.value = pass ? '' : state.nick;
  ui.nickForm.dataset.shown = what;
  ui.prompt.hidden = false;
  ui.app.inert = true;
  ui.nickInput.focus();
  ui.nickInput.select();
}

function hidePrompt() {
  ui.prompt.hidden = true;
  ui.app.inert = false;
  ui.nickForm.dataset.shown = '';
}

ui.nickForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const value = ui.nickInput.value;
  if (ui.nickForm.dataset.asking === 'pass') {
    if (value === '') return;
    state.password = value;
    state.autoPassword = true;
    ui.nickInput.value = '';
    forgetRefusal();
    ui.promptHint.textContent = 'checking…';
    if (state.asked === 'pass') answerPassword();
  } else {
    const nick = value.trim();
    if (nick === '') return;
    forgetRefusal();
    state.nick = nick;
    state.autoNick = true;
    if (state.asked === 'nick') answerNick();
    else ui.promptHint.textContent = 'connecting…';
  }
});

/** The refusal answered by what was just typed: off the prompt. */
function forgetRefusal() {
  state.refusal = '';
  state.hint = '';
  ui.nickError.hidden = true;
  ui.nickError.textContent = '';
  ui.promptHint.textContent = '';
}

function answerNick() {
  state.asked = null;
  ui.promptHint.textContent = '';
  send(state.nick);
}

function answerPassword() {
  state.asked = null;
  send(state.password);
}

// ---------------------------------------------------------------------------------------
// The connection

/** Whether there is a connection open to send on. */
function connected() {
  return state.ws != null && state.ws.readyState === WebSocket.OPEN;
}

/**
 * Sends one line, in its turn behind the lines still waiting for the flood limit (see
 * `pace`); false if there is no open connection. A line you `typed` that the connection
 * is lost before sending is reported as not sent.
 */
function send(line, typed = false) {
  if (!connected()) return false;
  pace.waiting.push({ line, typed });
  sendWaiting();
  return true;
}

/** Sends at once a line the server does not count against flood control (`/pong`). */
function sendUncounted(line) {
  if (connected()) state.ws.send(line);
}

/**
 * What the page sends goes out under the server's flood limit, which its `LIMITS` line
 * announces: a token bucket of half the server's burst, refilled at 80% of its rate, as
 * smolchat's bots pace themselves (the server counted the nickname and password too, and
 * its clock is not ours). Lines beyond it wait in order, so a rejoin of many rooms is
 * slowed down instead of dropped, and a line you type goes after them. Until a `LIMITS`
 * line, and from a server that sends none (no flood control), nothing waits.
 */
const pace = {
  /** Lines a second (0: no limit) and most lines at once. */
  rate: 0,
  burst: 0,
  /** Lines that may be sent now, as of `updated` (a `performance.now()`). */
  tokens: 0,
  updated: 0,
  /**
   * Lines waiting for a token, oldest first, each with whether you typed it; and the timer
   * that sends the next.
   */
  waiting: [],
  timer: null,
};

/** Sends the waiting lines the bucket allows, and sets a timer for the rest. */
function sendWaiting() {
  clearTimeout(pace.timer);
  pace.timer = null;
  while (pace.waiting.length > 0 && connected()) {
    if (pace.rate > 0) {
      const now = performance.now();
      pace.tokens = Math.min(pace.burst, pace.tokens + ((now - pace.updated) / 1000) * pace.rate);
      pace.updated = now;
      if (pace.tokens < 1) {
        pace.timer = setTimeout(sendWaiting, Math.ceil(((1 - pace.tokens) / pace.rate) * 1000));
        return;
      }
      pace.tokens -= 1;
    }
    state.ws.send(pace.waiting.shift().line);
  }
}

/** Paces by the server's limits, `rate` lines a second after `burst` (rate 0: none). */
function setPace(rate, burst) {
  pace.rate = rate > 0 ? rate * RATE_SHARE : 0;
  pace.burst = Math.max(1, Math.floor(burst * BURST_SHARE));
  pace.tokens = pace.burst;
  pace.updated = performance.now();
  sendWaiting();
}

/** A new connection: no limit known yet, and nothing left to send from the last one. */
function resetPace() {
  pace.waiting = [];
  setPace(0, 0);
}

function connect() {
  resetPace();
  clearTimeout(state.retryTimer);
  clearInterval(state.countdown);
  state.retryTimer = null;
  state.countdown = null;
  setStatus('connecting', 'connecting…');
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let ws;
  try {
    ws = new WebSocket(`${scheme}//${location.host}/ws`);
  } catch (error) {
    setStatus('offline', `cannot connect: ${error.message}`);
    return;
  }
  state.ws = ws;
  ws.addEventListener('open', () => {
    if (state.ws === ws) setStatus('registering', 'connected, registering…');
  });
  ws.addEventListener('message', (event) => {
    if (state.ws !== ws || typeof event.data !== 'string') return;
    for (const line of event.data.split('\n')) {
      const clean = line.endsWith('\r') ? line.slice(0, -1) : line;
      if (clean !== '') receive(clean);
    }
  });
  ws.addEventListener('close', () => {
    if (state.ws === ws) lost();
  });
}

/** The connection ended: keep the rooms to rejoin, and try again after a while. */
function lost() {
  const wasRegistered = state.registered;
  state.ws = null;
  const unsent = pace.waiting.filter((waiting) => waiting.typed).length;
  resetPace();
  state.registered = false;
  state.landing = false;
  state.afterLanding = [];
  state.asked = null;
  state.namesAsked = 0;
  state.historyAsked = 0;
  if (wasRegistered) {
    const joined = rooms().filter((b) => b.joined);
    // A rejoin still under way is the plan still: many of its rooms are not joined yet.
    state.rejoin ??= { rooms: joined.map((b) => b.name), current: state.current };
    state.rejoin.sent = false;
    for (const buf of joined) {
      buf.joined = false;
      buf.members.clear();
      buf.showUnread();
    }
    state.autoNick = true;
    showMembers();
  }
  state.current = null;
  if (state.quitting) {
    setStatus('offline', 'you left the chat');
    noteEverywhere('info', 'You left. Reload the page to come back.');
    return;
  }
  const delay = Math.min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** state.attempt);
  // Up to a quarter off, so a restarted server is not met by everyone at once.
  const wait = Math.round(delay * (0.75 + Math.random() * 0.25));
  state.attempt += 1;
  state.retryAt = Date.now() + wait;
  const seconds = Math.max(1, Math.round(wait / 1000));
  if (wasRegistered) noteEverywhere('error', `Connection lost. Reconnecting in ${seconds} s…`);
  if (unsent > 0) {
    const lines = unsent === 1 ? 'line you typed was' : `${unsent} lines you typed were`;
    noteEverywhere('error', `The last ${lines} not sent.`);
  }
  state.retryTimer = setTimeout(connect, wait);
  const tick = () => {
    const left = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
    setStatus('offline', `disconnected; reconnecting in ${left} s`);
  };
  tick();
  state.countdown = setInterval(tick, 1000);
}

/**
 * After a reconnect, once registered: back into the rooms you were in. The room that was
 * current is joined last, so that it is current again. Any of the joins may be refused
 * (the server may have fewer rooms to give now), so the rejoin ends with a line of its own
 * whose answer comes after all of theirs: an `/ison` of yourself (see `rejoined`).
 */
function rejoin() {
  const plan = state.rejoin;
  if (!plan) return;
  const wanted = new Set(plan.rooms.map(fold));
  const lines = plan.rooms
    .filter((name) => !roomBuffer(name)?.joined && !same(name, plan.current))
    .map((name) => `/join ${name}`);
  // The default room you had left before the connection was lost.
  for (const buf of rooms()) {
    if (buf.joined && !wanted.has(fold(buf.name))) lines.push(`/part ${buf.name}`);
  }
  if (plan.current && (lines.length > 0 || !same(state.current, plan.current))) {
    lines.push(`/join ${plan.current}`);
  }
  if (lines.length === 0) {
    state.rejoin = null;
  } else {
    for (const line of lines) send(line);
    send(`/ison ${state.me}`);
    plan.sent = true;
  }
  const list = plan.rooms.length ? plan.rooms.join(', ') : 'no rooms';
  noteEverywhere('info', `Reconnected as ${state.me}; rejoining ${list}.`);
}

/**
 * An ONLINE line: while a rejoin is sent, it answers the `/ison` that ended it (the page
 * sends no other, and what you type waits behind the rejoin), so the server has answered
 * every line of the rejoin, which is over. Whether to show it: not if it names only you.
 */
function rejoined(nicks) {
  if (!state.rejoin?.sent) return false;
  state.rejoin = null;
  return nicks.length === 1 && same(nicks[0], state.me);
}

/** A room you joined or left while a rejoin is under way: one to rejoin, or not. */
function replan(room, joined) {
  const plan = state.rejoin;
  if (!plan || state.landing) return;
  const known = plan.rooms.some((name) => same(name, room));
  if (joined && !known) plan.rooms.push(room);
  if (!joined && known) plan.rooms = plan.rooms.filter((name) => !same(name, room));
}

// ---------------------------------------------------------------------------------------
// Server lines

/** Handles one line from the server. Unknown keywords are ignored, as the protocol asks. */
function receive(line) {
  const [keyword] = fields(line, 2);
  if (Object.hasOwn(handlers, keyword)) handlers[keyword](line);
}

const handlers = {
  PASS() {
    state.asked = 'pass';
    if (state.autoPassword && state.password != null) answerPassword();
    else showPrompt('pass');
  },

  /** `LIMITS flood-rate=N flood-burst=N ...`: how fast the server lets this page send. */
  LIMITS(line) {
    const limits = new Map(line.split(' ').slice(1).map((word) => word.split('=', 2)));
    const number = (name) => Number.parseInt(limits.get(name) ?? '', 10) || 0;
    setPace(number('flood-rate'), number('flood-burst'));
  },

  NICK() {
    state.asked = 'nick';
    if (state.autoNick && state.nick) answerNick();
    else showPrompt('nick');
  },

  WELCOME(line) {
    const [, nick, online] = fields(line, 4);
    const again = state.rejoin != null;
    state.me = nick;
    state.nick = nick;
    state.registered = true;
    state.landing = true;
    state.attempt = 0;
    remember(nick);
    hidePrompt();
    forgetRefusal();
    setStatus('online', `connected as ${nick}`);
    // Said in the room registration lands in (its ROOM line ends registration).
    if (!again) state.afterRoom = `Welcome, ${nick}: ${online} online.`;
    ui.sayInput.focus();
  },

  JOIN(line) {
    const [, room, nick] = fields(line, 3);
    const buf = buffer('room', room);
    if (same(nick, state.me)) {
      replan(room, true);
      // Its replay comes next: what was seen live since the last join may be in it.
      buf.unmatched = buf.live;
      buf.live = [];
      buf.matched = new Set();
      buf.joined = true;
      buf.members.clear();
      buf.members.set(fold(nick), nick);
      buf.showUnread();
      addLine(buf, 'event', null, `→ you joined ${room}`);
      send(`/names ${room}`);
    } else {
      buf.members.set(fold(nick), nick);
      addLine(buf, 'event', null, `→ ${nick} joined`);
    }
    if (buf === state.view) showMembers();
  },

  LEAVE(line) {
    const [, room, nick, reason] = fields(line, 4);
    const buf = roomBuffer(room);
    if (!buf) return;
    if (same(nick, state.me)) {
      replan(room, false);
      state.buffers.delete(buf.key);
      buf.remove();
      const said = `← you left ${room}`;
      if (state.view === buf && same(room, state.current)) {
        // The ROOM line that follows names the room to show, and this goes there.
        show(buffer('server', ''));
        state.afterRoom = said;
        state.followRoom = true;
      } else {
        if (state.view === buf) show(roomBuffer(state.current ?? '') ?? buffer('server', ''));
        note('event', said);
      }
      return;
    }
    buf.members.delete(fold(nick));
    addLine(buf, 'event', null, `← ${nick} left${leaving(reason, 'part')}`);
    if (buf === state.view) showMembers();
  },

  QUIT(line) {
    const [, nick, reason] = fields(line, 3);
    for (const buf of state.buffers.values()) {
      const here =
        (buf.kind === 'room' && buf.members.delete(fold(nick))) ||
        (buf.kind === 'private' && same(buf.name, nick));
      if (here) addLine(buf, 'event', null, `← ${nick} quit${leaving(reason, null)}`);
    }
    showMembers();
  },

  RENAME(line) {
    const [, old, renamed] = fields(line, 3);
    const mine = same(old, state.me);
    if (mine) {
      state.me = renamed;
      state.nick = renamed;
      remember(renamed);
      setStatus('online', `connected as ${renamed}`);
    }
    const text = mine ? `you are now known as ${renamed}` : `${old} is now known as ${renamed}`;
    for (const buf of [...state.buffers.values()]) {
      if (buf.kind === 'room' && buf.members.delete(fold(old))) {
        buf.members.set(fold(renamed), renamed);
        addLine(buf, 'event', null, text);
      } else if (buf.kind === 'private' && same(buf.name, old)) {
        const existing = state.buffers.get(key('private', renamed));
        state.buffers.delete(buf.key);
        if (existing && existing !== buf) {
          // A conversation with the new name already: one person, one conversation.
          absorb(existing, buf);
          addLine(existing, 'event', null, text);
        } else {
          buf.rename(renamed);
          state.buffers.set(buf.key, buf);
          addLine(buf, 'event', null, text);
        }
      }
    }
    if (mine && state.view.kind === 'server') note('event', text);
    showHeader();
    showMembers();
  },

  // Talk: `extra` is given for a line replayed by HISTORY (see addLine).
  MSG(line, extra) {
    const [, room, from, text] = fields(line, 4);
    addLine(buffer('room', room), 'msg', from, text, extra);
  },

  ACTION(line, extra) {
    const [, room, from, text] = fields(line, 4);
    addLine(buffer('room', room), 'action', from, text, extra);
  },

  NOTICE(line, extra) {
    const [, room, from, text] = fields(line, 4);
    addLine(buffer('room', room), 'notice', from, text, extra);
  },

  PRIV(line, extra) {
    privately(line, 'msg', extra);
  },

  PRIVACTION(line, extra) {
    privately(line, 'action', extra);
  },

  PRIVNOTICE(line, extra) {
    privately(line, 'notice', extra);
  },

  /** `HISTORY time line`: talk said before, replayed, shown as it was with its time. */
  HISTORY(line) {
    const [, time, said] = fields(line, 3);
    const at = new Date(time);
    const [keyword] = fields(said, 2);
    if (Number.isNaN(at.getTime()) || !REPLAYED.has(keyword)) return;
    handlers[keyword](said, { at });
  },

  /** `HISTORYEND of count`: what follows is live; a rule marks where. */
  HISTORYEND(line) {
    const [, of, count] = fields(line, 3);
    const n = Number.parseInt(count, 10);
    const room = of.startsWith('#');
    const place = `${room ? 'in' : 'with'} ${of}`;
    if (!(n > 0)) {
      // Only a /history that found nothing ends so.
      state.historyAsked = Math.max(0, state.historyAsked - 1);
      note('info', `no earlier messages ${place}`);
      return;
    }
    const buf = room ? buffer('room', of) : buffer('private', of);
    addSeparator(buf, `${n} earlier message${n === 1 ? '' : 's'} ${place} · new below`);
    // A room you are not in shows as one you left; a /history you typed is put in view.
    buf.showUnread();
    if (state.historyAsked > 0) {
      state.historyAsked -= 1;
      show(buf);
    }
  },

  /** `KICK #room nick by reason`: the room's owner removed someone, maybe you. */
  KICK(line) {
    const [, room, nick, by, reason] = fields(line, 5);
    const buf = roomBuffer(room);
    const why = reason ? ` (${reason})` : '';
    if (same(nick, state.me)) {
      replan(room, false);
      kicked(buf, `you were removed from ${room} by ${by}${why}`);
      return;
    }
    if (!buf) return;
    buf.members.delete(fold(nick));
    addLine(buf, 'event', null, `← ${nick} was removed by ${by}${why}`);
    if (buf === state.view) showMembers();
  },

  /** `IDENTIFY nick seconds hint`: your nickname is registered; prove it is yours. */
  IDENTIFY(line) {
    const [, nick, seconds] = fields(line, 4);
    const said =
      `${nick} is registered: type /identify PASSWORD within ${seconds} s, ` +
      'or you will be renamed';
    soon('warn', said);
  },

  /** `ACCOUNT nick`: identified as that account; `ACCOUNT` alone: no longer. */
  ACCOUNT(line) {
    const [, nick] = fields(line, 2);
    soon('info', nick ? `you are identified as ${nick}` : 'you are no longer identified');
  },

  TOPIC(line) {
    const [, room, by, text] = fields(line, 4);
    const buf = roomBuffer(room);
    const said = text ? `topic: ${text} (set by ${by})` : `${by} cleared the topic`;
    if (!buf || !buf.joined) {
      note('info', `${room} ${said}`);
      return;
    }
    buf.topic = text;
    buf.topicBy = by;
    addLine(buf, 'event', null, said);
    if (buf === state.view) showHeader();
  },

  NAMES(line) {
    const [, room, rest] = fields(line, 3);
    const nicks = rest.split(' ').filter((nick) => nick !== '');
    const buf = roomBuffer(room);
    const asked = state.namesAsked > 0;
    if (asked) state.namesAsked -= 1;
    if (asked || !buf || !buf.joined) note('info', `in ${room}: ${nicks.join(', ')}`);
    if (!buf || !buf.joined) return;
    buf.members = new Map(nicks.map((nick) => [fold(nick), nick]));
    if (buf === state.view) showMembers();
  },

  ONLINE(line) {
    const nicks = line.split(' ').slice(1).filter((nick) => nick !== '');
    if (rejoined(nicks)) return;
    note('info', nicks.length ? `online: ${nicks.join(', ')}` : 'none of them is online');
  },

  LIST(line) {
    const [, room, members, topic] = fields(line, 4);
    note('info', `${room} (${members})${topic ? `: ${topic}` : ''}`);
  },

  LISTEND(line) {
    const [, count] = fields(line, 2);
    note('info', `${count} room${count === '1' ? '' : 's'}`);
  },

  ROOM(line) {
    const [, room] = fields(line, 2);
    state.current = room || null;
    const buf = room ? buffer('room', room) : buffer('server', '');
    if (state.landing && state.rejoin && state.view.kind !== 'server') {
      // Back after a reconnect: the view stays where it was while the rooms are rejoined.
    } else if (state.view.kind !== 'private' || state.followRoom) {
      // A private conversation in view stays in view unless you typed a /join or /part.
      show(buf);
    }
    state.followRoom = false;
    if (state.afterRoom) {
      note('info', state.afterRoom);
      state.afterRoom = null;
    }
    if (state.landing) {
      state.landing = false;
      for (const [kind, text] of state.afterLanding.splice(0)) note(kind, text);
      rejoin();
    }
  },

  INFO(line) {
    const [, text] = fields(line, 2);
    note('info', text);
  },

  ERROR(line) {
    const [, code, text] = fields(line, 3);
    const said = text || code;
    if (!state.registered) {
      if (NICK_ERRORS.has(code)) state.autoNick = false;
      if (code === 'bad-password') state.autoPassword = false;
      // The prompt shows it when the server asks again with NICK or PASS, right after.
      state.refusal = said;
      state.hint =
        NICK_ERRORS.has(code) && state.me && same(state.nick, state.me)
          ? 'Your previous connection may still be closing: wait a little, or choose another.'
          : '';
      if (ui.prompt.hidden) {
        note('error', said);
      } else {
        // Shown now too: a refusal that closes the connection is not followed by a question.
        ui.nickError.textContent = said;
        ui.nickError.hidden = false;
        ui.promptHint.textContent = state.hint;
      }
      return;
    }
    if (code === 'no-such-room' || code === 'usage') state.namesAsked = 0;
    if (HISTORY_ERRORS.has(code)) state.historyAsked = 0;
    showError(said);
    note('error', said);
  },

  PING(line) {
    const [, token] = fields(line, 2);
    sendUncounted(`/pong ${token}`);
  },

  BYE(line) {
    const [, reason] = fields(line, 2);
    noteEverywhere('error', `The server closed the connection: ${reason}`);
  },
};

/** The keywords a HISTORY line may replay. */
const REPLAYED = new Set(['MSG', 'ACTION', 'NOTICE', 'PRIV', 'PRIVACTION', 'PRIVNOTICE']);

/**
 * You were removed from `buf`'s room: it stays in the list, marked as left, so the reason
 * can be read there (a click joins again). Removed from the current room, the ROOM line
 * that follows shows the next one, and says it there too.
 */
function kicked(buf, said) {
  if (!buf) {
    note('error', said);
    return;
  }
  buf.joined = false;
  buf.members.clear();
  buf.showUnread();
  addLine(buf, 'error', null, said);
  if (state.view === buf && same(buf.name, state.current)) {
    state.afterRoom = said;
    state.followRoom = true;
  } else if (state.view !== buf) {
    note('error', said);
  }
  showMembers();
}

/**
 * Moves the lines of `from` (taken off the map already) into `into`, in the order they
 * were said, then takes `from` off the page; its unread count goes with them, and `into`
 * is shown instead if `from` was.
 */
function absorb(into, from) {
  // Each line by its time; a line without one (a rule) goes with the line before it.
  const timed = (buf) => {
    let at = -Infinity;
    return [...buf.list.children].map((line) => {
      const time = line.querySelector('time');
      if (time) at = Date.parse(time.dateTime);
      return { line, at };
    });
  };
  const [a, b] = [timed(into), timed(from)];
  const merged = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const fromA = j >= b.length || (i < a.length && a[i].at <= b[j].at);
    merged.push(fromA ? a[i++].line : b[j++].line);
  }
  into.list.replaceChildren(...merged.slice(-MAX_LINES));
  // Only the latest rule between replayed and live lines stays (see addSeparator).
  const rules = [...into.list.querySelectorAll('.separator')];
  for (const rule of rules.slice(0, -1)) rule.remove();
  into.live = [...into.live, ...from.live].slice(-MAX_LINES);
  into.unread += from.unread;
  into.mentioned ||= from.mentioned;
  if (state.view === from) show(into);
  from.remove();
  into.showUnread();
  showTotals();
}

/** ` (reason)` for a leave or quit, without the plain `part`. */
function leaving(reason, plain) {
  if (!reason || reason === plain) return '';
  return ` (${reason})`;
}

/**
 * A private message, action or notice, in the conversation with the other person;
 * `extra.at` is set for one replayed by HISTORY.
 */
function privately(line, kind, extra = {}) {
  const [, from, to, text] = fields(line, 4);
  const mine = same(from, state.me);
  const partner = mine ? to : from;
  const buf = buffer('private', partner);
  addLine(buf, kind, from, text, { ...extra, private: true });
  // A `/msg` typed elsewhere: said where it was typed too, so it does not vanish.
  if (mine && buf !== state.view && extra.at == null) note('info', `→ ${partner}: ${text}`);
}

// ---------------------------------------------------------------------------------------
// What you type

/** Sends what was typed in the message box, as a line of the protocol. */
function submit(text) {
  if (text.trim() === '') return true;
  const buf = state.view;
  if (!connected() || !state.registered) {
    showError('not connected: wait for the connection to come back');
    return false;
  }
  const command = text.startsWith('/') && !text.startsWith('//');
  if (!command) {
    // `//text` says `/text`: the protocol's escape, typed as is.
    const words = text.startsWith('//') ? text.slice(1) : text;
    if (buf.kind === 'private') return send(`/msg ${buf.name} ${words}`, true);
    if (buf.kind === 'room' && same(buf.name, state.current)) return send(text, true);
    if (buf.kind === 'room') return send(`/msg ${buf.name} ${words}`, true);
    showError('you are in no room: join one with /join #room');
    return false;
  }
  const [name] = fields(text, 2);
  const verb = name.toLowerCase();
  if (verb === '/me' && buf.kind === 'private') {
    showError('/me goes to a room: switch to one first');
    return false;
  }
  if (verb === '/quit') state.quitting = true;
  if (verb === '/join' || verb === '/part') state.followRoom = true;
  if (verb === '/names' || verb === '/who') state.namesAsked += 1;
  if (verb === '/history') state.historyAsked += 1;
  return send(text, true);
}

ui.sayForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.sayInput.value;
  clearError();
  if (submit(text)) {
    // A password stays out of the up arrow's reach.
    if (text.trim() !== '' && !holdsSecret(text)) state.history.push(text);
    if (state.history.length > 100) state.history.shift();
    state.historyAt = state.history.length;
    ui.sayInput.value = '';
    scrollToBottom();
  }
});

ui.sayInput.addEventListener('keydown', (event) => {
  if (event.key !== 'ArrowUp' && event.key !== 'ArrowDown') return;
  const step = event.key === 'ArrowUp' ? -1 : 1;
  const at = state.historyAt + step;
  if (at < 0 || at > state.history.length) return;
  event.preventDefault();
  state.historyAt = at;
  ui.sayInput.value = state.history[at] ?? '';
});

ui.sayInput.addEventListener('input', clearError);

ui.joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  let room = ui.joinInput.value.trim();
  if (room === '') return;
  if (!room.startsWith('#')) room = `#${room}`;
  if (send(`/join ${room}`)) {
    state.followRoom = true;
    ui.joinInput.value = '';
    closeDrawer();
    ui.sayInput.focus();
  } else {
    showError('not connected: wait for the connection to come back');
  }
});

ui.part.addEventListener('click', () => {
  const buf = state.view;
  if (buf.kind === 'room') {
    send(`/part ${buf.name}`);
  } else if (buf.kind === 'private') {
    state.buffers.delete(buf.key);
    buf.remove();
    ui.privatesHeading.hidden = ![...state.buffers.values()].some((b) => b.kind === 'private');
    show(roomBuffer(state.current ?? '') ?? buffer('server', ''));
  }
  closeDrawer();
});

ui.drawerToggle.addEventListener('click', () => {
  const open = ui.app.classList.toggle('drawer-open');
  ui.drawerToggle.setAttribute('aria-expanded', String(open));
});

ui.log.addEventListener('click', closeDrawer);

ui.status.addEventListener('click', () => {
  // Reconnect now rather than at the end of the countdown.
  if (!state.ws && state.retryTimer && !state.quitting) connect();
});

window.addEventListener('online', () => {
  if (!state.ws && state.retryTimer && !state.quitting) connect();
});

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && state.view) {
    state.view.unread = 0;
    state.view.mentioned = false;
    state.view.showUnread();
    showTotals();
  }
});

// ---------------------------------------------------------------------------------------
// Start

show(buffer('server', ''));
showPrompt('nick');
connect();
