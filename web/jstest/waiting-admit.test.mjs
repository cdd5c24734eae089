// "Admit all" in the waiting room (web/static/js/waiting-admit.js): one admit_all when
// every knock is proven or the meeting is not encrypted; otherwise only the verified
// knockers, one by one, and never a wrong-link or still-checking one.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { admitAllLabel, admitPlan } from '../static/js/waiting-admit.js';

test('a meeting without encryption or with only verified knocks admits all at once', () => {
  for (const list of [
    [{ participantId: 'a', link: null }, { participantId: 'b', link: null }],
    [{ participantId: 'a', link: 'verified' }, { participantId: 'b', link: 'verified' }],
    [{ participantId: 'a' }],
  ]) {
    const plan = admitPlan(list);
    assert.equal(plan.all, true);
    assert.equal(admitAllLabel(plan), 'waiting.admit-all');
  }
});

test('a wrong or unchecked link keeps its knocker waiting', () => {
  const plan = admitPlan([
    { participantId: 'a', link: 'verified' },
    { participantId: 'w', link: 'wrong' },
    { participantId: 'b', link: 'verified' },
    { participantId: 'c', link: 'checking' },
  ]);
  assert.deepEqual(plan, { all: false, ids: ['a', 'b'] });
  assert.equal(admitAllLabel(plan), 'waiting.admit-verified');
});

test('only wrong links: nobody to admit at once', () => {
  assert.deepEqual(admitPlan([{ participantId: 'w', link: 'wrong' }]), { all: false, ids: [] });
});
