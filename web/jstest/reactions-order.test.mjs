// The reactions (reactions.js): #btn-reactions is a disclosure of the bar of reaction
// buttons, and what it opens comes next in the tab order (WCAG 2.4.3). The bar was
// before its button, so Tab from the button just opened went on to Leave and the
// reactions were reached only backwards, with Shift+Tab.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM } from './mini-dom.mjs';

const doc = installMiniDOM();
const controls = doc.createElement('div');
doc.body.append(controls);
const leave = doc.createElement('button');
leave.setAttribute('id', 'btn-leave');
controls.append(leave);
const { Reactions } = await import('../static/js/reactions.js');

// tabOrder lists the buttons under root as Tab reaches them: document order (no
// positive tabindex on the page), the hidden ones left out.
const tabOrder = (root) => [...root.descendants()].filter((n) => n.tagName === 'BUTTON' && n.focusable());

test('Tab from the reactions button reaches the reactions it opened before Leave', () => {
  const reactions = new Reactions({ send() {} });
  reactions.button.click();
  assert.equal(reactions.bar.hidden, false, 'the button did not open the bar');
  assert.equal(reactions.button.getAttribute('aria-expanded'), 'true');
  const order = tabOrder(controls);
  const at = order.indexOf(reactions.button);
  const emojis = order.slice(at + 1, at + 7).map((b) => b.dataset.emoji);
  assert.deepEqual(emojis, ['👍', '👏', '😂', '😮', '❤️', '🎉'], 'the reactions do not follow their button');
  assert.equal(order[at + 7], leave);
});
