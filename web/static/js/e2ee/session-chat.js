// Chat texts under the senders' media keys (e2ee/FORMAT.md, "Chat (version 3)"), the
// part of SessionKeys (session-keys.js) that seals the own texts under the own newest
// key, with a counter above every one this id sent, and opens the members' through
// chat-keys.js: a text that came with the welcome waits for the key schedule's first
// step, one whose key has not come waits for it, and one that does not open shows as
// UNREADABLE.
//
// SessionKeys extends this class, which extends OwnKeys (own-keys.js); the state is
// SessionKeys' (its constructor).

import { E2EEError } from './errors.js';
import { validId } from './keys.js';
import { encryptChat } from './chat-keys.js';
import { OwnKeys } from './own-keys.js';

/** UNREADABLE is shown in place of a name or chat text that does not decrypt. */
export const UNREADABLE = '(unreadable)';

/**
 * How many chat texts may arrive between the welcome and the end of its key schedule's
 * first step (the own id, the roster): they wait for it (decryptChat); more show as not
 * readable.
 */
const MAX_HELD_CHATS = 256;

/** SessionChat is the chat of SessionKeys (see above): methods only. */
export class SessionChat extends OwnKeys {
  /**
   * encryptChat seals a chat text under the own newest media key (after applying any
   * pending join or leave, so that a newcomer can read it and one who left cannot).
   * Every verified member got that key before this text: the key messages went first.
   */
  encryptChat(text) {
    return this._run(async () => {
      if (!this.own || !this.selfId) throw new E2EEError('unknown-key', 'no own key yet');
      await this._flush({ rotate: true });
      // The own echo opens with it even before frames switch to it (a rotation waits).
      this.chatKeys.setKey(this.selfId, this.own.index, this.own.raw);
      this.pastKeys.usedForChat(this.own);
      // Above every counter this id sent, also from the page before a reload (whose
      // last one the members keep): the clock in milliseconds since 1970 (the injected
      // one's wall: the page's is Date.now(); a wall clock set back still counts on from
      // the last), or one above the last.
      const wall = this.clock.wall ? this.clock.wall() : this.clock.now();
      this.chatCounter = Math.max(this.chatCounter + 1, wall);
      return encryptChat(this.own.raw, this.own.index, this.selfId, text, this.chatCounter);
    });
  }

  /**
   * decryptChat opens a chat text the server says `from` sent (own ones included), with
   * from's media keys. A text whose key has not come waits for it (chat-keys.js, at most
   * CHAT_WAIT_MS from this call; onWait() says that it waits); UNREADABLE when it does
   * not open, never shown as someone else's, and when from's counter does not go up (a
   * text the server replays). Called in the order the texts came; a text that waits
   * holds back only its sender's later ones (ChatKeys.open).
   */
  decryptChat(from, cipher, onWait = () => {}) {
    if (this.closed || !validId(from)) return Promise.resolve(UNREADABLE);
    if (!this.selfId || this.heldChats > 0) {
      // Between the welcome (start) and the end of its step, which sets the own id and
      // the roster: a text that came in the same burst as the welcome waits for it, and
      // so do the texts after it while it waits (ChatKeys.open takes them in the order
      // of the calls). Before start, or beyond MAX_HELD_CHATS, it is not readable.
      if (!this.startStep || this.heldChats >= MAX_HELD_CHATS) return Promise.resolve(UNREADABLE);
      this.heldChats++;
      return this.startStep.then((started) => {
        this.heldChats--;
        return started ? this._openChat(from, cipher, onWait) : UNREADABLE;
      });
    }
    return this._openChat(from, cipher, onWait);
  }

  _openChat(from, cipher, onWait) {
    if (this.closed || !this.selfId) return Promise.resolve(UNREADABLE);
    if (from !== this.selfId && !this.roster.admits(from)) return Promise.resolve(UNREADABLE);
    return this.chatKeys.open(from, cipher, onWait).catch(() => UNREADABLE);
  }

}
