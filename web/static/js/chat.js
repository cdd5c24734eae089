// The chat panel. Messages exist only in this page's memory and on the screens
// of those present; text is inserted with textContent, never as markup.
//
// Screen readers: the open panel's list is a live region; while the panel is closed
// (its live region hidden with it) a message from someone else is announced through the
// page's live region (dom.js announce), and the chat button's name says how many wait.
// A message grouped under the one before (same sender, within a minute) shows no name,
// but holds it visually hidden (.chat-sender), so it is never read without its sender.
//
// Test hooks: #chat-input, #chat-send, #chat-messages > .chat-message[data-from] > .chat-text

import { el, announce } from './dom.js';
import { linkNodes } from './linkify.js';
import { formatTime, onLanguageChange, setAttr, t } from './i18n.js';
import { fillName, sentence } from './e2ee-names.js';

const TIME = { hour: '2-digit', minute: '2-digit' }; // in the user's locale (i18n.js)
/** ANNOUNCE_CHARS is how much of a text from someone else a screen reader is given while the panel is closed. */
export const ANNOUNCE_CHARS = 160;
const GROUP_MS = 60_000; // consecutive messages of one sender within a minute share a header
// The newest lines kept on the page: older ones go. Unbounded, a member sending at the
// server's limit (5 a second, 2000 characters) filled every other page with tens of
// thousands of messages in an hour.
export const MAX_LINES = 500;

export class Chat {
  /**
   * @param {{list: HTMLElement, input: HTMLTextAreaElement, send: HTMLButtonElement,
   *          badge: HTMLElement, onSend: (text: string) => boolean, maxChars?: number,
   *          button?: HTMLElement}} opts  button: the control that opens the panel
   */
  constructor({ list, input, send, badge, onSend, maxChars = 2000, button = null }) {
    this.list = list;
    this.button = button;
    this.input = input;
    this.sendBtn = send;
    this.badge = badge;
    this.onSend = onSend;
    this.maxChars = maxChars;
    this.open = false;
    this.unread = 0;
    this.last = null; // {from, time}
    this.lines = []; // the messages and notices shown, oldest first (at most MAX_LINES)
    this.headers = new WeakMap(); // a grouped message -> its own header, made when needed
    this.placeholders = new WeakMap(); // a sender's name shown as a placeholder -> its sender
    this.selfId = null;
    this.enabled = true;

    this.input.maxLength = maxChars;
    // Enter sends, Shift+Enter starts a new line.
    let enterSends = false;
    this.input.addEventListener('keydown', (event) => {
      enterSends = event.key === 'Enter' && !event.shiftKey && !event.isComposing;
      if (enterSends) {
        event.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener('keyup', () => { enterSends = false; });
    // Some input paths deliver the Enter character separately from keydown.
    this.input.addEventListener('beforeinput', (event) => {
      if (enterSends && (event.inputType === 'insertLineBreak' || event.inputType === 'insertParagraph')) {
        event.preventDefault();
      }
    });
    this.input.addEventListener('input', () => this._resize());
    this.sendBtn.addEventListener('click', () => this.submit());
    // Times are formatted text: written again in the language switched to.
    // A placeholder name ("Name unknown", "…" read out as "Name not yet received") too.
    onLanguageChange(() => {
      for (const node of this.list.querySelectorAll('time.chat-time')) node.textContent = formatTime(node.dateTime, TIME);
      for (const node of this.list.querySelectorAll('[data-name-pending]')) {
        const sender = this.placeholders.get(node);
        if (sender) this._senderName(node, sender);
      }
    });
  }

  setMaxChars(n) {
    this.maxChars = n;
    this.input.maxLength = n;
  }

  /** setEnabled turns the compose box on or off (the meeting's chat setting). */
  setEnabled(on) {
    this.enabled = on;
    this.input.disabled = !on;
    this.sendBtn.disabled = !on;
    setAttr(this.input, 'placeholder', on ? 'chat.placeholder' : 'chat.off');
    setAttr(this.input, 'aria-label', on ? 'chat.message' : 'chat.message-off');
  }

  /** submit sends the input's text, if any. */
  submit() {
    if (!this.enabled) return;
    const text = this.input.value.trim();
    if (!text) return;
    if (Array.from(text).length > this.maxChars) return;
    if (this.onSend(text) !== false) {
      this.input.value = '';
      this._resize();
    }
    this.input.focus();
  }

  /**
   * add shows a received `chat` message. A pending one (an encrypted text that waits for
   * its sender's key) holds its place with "waiting for the key" until fill(text) of
   * what add returns puts the text there. nameLabel is set while name is a placeholder
   * ("…" before an encrypted meeting's sealed name opened, "Name unknown"); sender, by
   * default the message itself, is where they are read from, each time the line shows
   * them: a placeholder's getters (e2ee-names.js placeholder) follow a switch of language.
   */
  add(message, sender = message) {
    const { messageId, from, text, sentAt } = message;
    let pending = message.pending === true;
    const time = sentAt ? new Date(sentAt) : new Date();
    const valid = !Number.isNaN(time.getTime());
    const mine = from === this.selfId;
    const grouped = this.last && this.last.from === from && valid && time - this.last.time < GROUP_MS;

    const item = el('li', {
      class: `chat-message${mine ? ' chat-mine' : ''}${grouped ? ' chat-grouped' : ''}`,
      dataset: { from: from || '', messageId: messageId || '' },
    });
    let nameEl = null; // the header's name, which a pending message's fill may give
    // shownName's rule ("Guest" without a name), kept as its catalogue key: a line is not
    // drawn again at a switch of language, and the key's text follows it.
    // A placeholder shows as it is and is read out by its label, as in the participant list.
    const senderEl = (cls) => {
      if (mine || !sender.name) return el('span', { class: cls, i18n: mine ? 'common.you' : 'common.guest' });
      const node = el('span', { class: cls });
      this._senderName(node, sender);
      return node;
    };
    const meta = () => el('div', { class: 'chat-meta' },
      nameEl = senderEl('chat-name'),
      valid ? el('time', { class: 'chat-time', datetime: time.toISOString(), text: formatTime(time, TIME) }) : null);
    if (!grouped) item.append(meta());
    else {
      // A grouped message shows no name, but a screen reader moving through the list
      // (or reading it out as a live region) hears whose it is: the name is there,
      // visually hidden, until the message gets its own header (_append).
      const hidden = el('span', { class: 'sr-only chat-sender' }, nameEl = senderEl('chat-sender-name'));
      item.append(hidden);
      this.headers.set(item, () => {
        hidden.remove();
        return meta();
      });
    }
    // http(s) addresses become safe links (linkify.js); everything else stays text.
    const body = pending ? el('div', { class: 'chat-text chat-pending', i18n: 'chat.waiting-key' }) : el('div', { class: 'chat-text' }, ...linkNodes(String(text || '')));
    item.append(body);

    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    this._append(item);
    this.last = { from, time: valid ? time : new Date() };
    if (atBottom || mine) this.list.scrollTop = this.list.scrollHeight;

    if (!this.open && !mine) {
      this.unread++;
      this._badge();
      if (!pending) this._announce(sender, text);
    }
    return {
      // fill puts the text in a pending message's place, and the sender's name as it is
      // known now (its key envelope, which brought the key, also brings the name).
      fill: (filled, newName) => {
        if (!pending) return;
        pending = false;
        delete body.dataset.i18n; // its text from now on, not the catalogue's
        body.classList.remove('chat-pending');
        body.replaceChildren(...linkNodes(String(filled || '')));
        if (newName) sender = { name: newName, nameLabel: null };
        if (nameEl && !mine && sender.name) {
          delete nameEl.dataset.i18n;
          this._senderName(nameEl, sender);
        }
        // Read out only while the line is shown: a session that ends (Leave, removed)
        // clears the chat and its keys wake every waiting text as unreadable, which was
        // announced over the screen that followed, of a message nowhere to be seen.
        if (!this.open && !mine && item.parentNode === this.list) this._announce(sender, filled);
      },
    };
  }

  /** notice adds a line from the client itself (e.g. a refused message), the text of key; kind 'info' is not an error. */
  notice(key, kind = 'error') {
    this._append(el('li', { class: `chat-notice${kind === 'info' ? ' chat-notice-info' : ''}`, i18n: key }));
    this.list.scrollTop = this.list.scrollHeight;
    this.last = null;
  }

  setOpen(open) {
    this.open = open;
    if (open) {
      this.unread = 0;
      this.list.scrollTop = this.list.scrollHeight;
    }
    this._badge();
  }

  clear() {
    for (const node of Array.from(this.list.querySelectorAll('.chat-message, .chat-notice'))) node.remove();
    this.lines = [];
    this.unread = 0;
    this.last = null;
    this._badge();
  }

  /** _append shows a line, letting the oldest go beyond MAX_LINES. */
  _append(line) {
    this.list.append(line);
    this.lines.push(line);
    while (this.lines.length > MAX_LINES) {
      this.lines.shift().remove();
      // A message that shared its sender's header with the one before shows it now.
      const first = this.lines[0];
      const header = this.headers.get(first);
      if (header) {
        this.headers.delete(first);
        first.classList.remove('chat-grouped');
        first.prepend(header());
      }
    }
  }

  /**
   * _senderName writes sender's name into node, a placeholder read out by its label
   * (e2ee-names.js fillName); a placeholder is kept with its sender, to be written again
   * at a switch of language.
   */
  _senderName(node, sender) {
    fillName(node, sender);
    if (sender.nameLabel) this.placeholders.set(node, sender);
    else this.placeholders.delete(node); // a placeholder the name replaced (fill)
  }

  _badge() {
    this.badge.textContent = this.unread > 99 ? '99+' : String(this.unread);
    this.badge.hidden = this.unread === 0;
    // The badge is inside a button named by its aria-label: the count goes into the name.
    // The name says nothing of open or closed: the button is a toggle, and aria-pressed
    // says that ("Chat, pressed"), as the people list's button does (WAI-ARIA APG: a
    // toggle's label stays while its state changes, else "Close chat, pressed").
    if (this.button) setAttr(this.button, 'aria-label', this.unread ? 'chat.unread' : 'chat.title', { count: this.unread });
  }

  /**
   * _announce reads a message of sender ({name, nameLabel}) out that arrived while the
   * panel (and its live region) is closed: "New message from someone" while its name is a
   * placeholder (e2ee-names.js sentence), "from Guest" without one (A_GUEST).
   */
  _announce(sender, text) {
    // A long text is read out only in part: the panel holds all of it, and a flood of
    // long texts (5 a second from one member, 2,000 characters each) would otherwise
    // talk over everything else for minutes.
    const chars = Array.from(String(text || ''));
    const said = chars.length > ANNOUNCE_CHARS ? `${chars.slice(0, ANNOUNCE_CHARS).join('')}…` : chars.join('');
    // Messages that come together are said as how many (the panel holds them, the button counts them).
    const { key, params } = sentence('chat.announce', sender, t, { text: said });
    announce(t(key, params), { kind: 'chat', many: (count) => t('chat.announce-many', { count }) });
  }

  _resize() {
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 140)}px`;
  }
}
