// Knock proofs (web/static/js/e2ee/knock.js) against the Go reference's vectors
// (e2ee/testdata/knock.json; regenerate with `go test ./e2ee -run TestKnockVectors -update`),
// and the moderator's verdicts per waiting-list entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { decode, encode } from '../static/js/e2ee/b64.js';
import { generateIdentity, hkdf, importIdentity, meetingKeyBytes, meetingKeys, x25519 } from '../static/js/e2ee/keys.js';
import {
  KnockChecker, answerKnock, judgeLobbyKeys, knockProof, lobbyKeyMessage, lobbyKeyTag, parseKnockField,
  selfLinkWrong, verifyKnockProof, verifyLobbyKey, sealKnockName, openKnockName,
} from '../static/js/e2ee/knock.js';

const v = JSON.parse(readFileSync(new URL('../../e2ee/testdata/knock.json', import.meta.url), 'utf8'));

async function keys() {
  return (await meetingKeys(decode(v.secret))).identityKey;
}

test('identity key of the vectors', async () => {
  assert.equal(encode((await meetingKeyBytes(decode(v.secret))).identity), v.identityKey);
});

test('proofs match the Go reference and verify', async () => {
  const ki = await keys();
  assert.ok(v.proofs.length >= 3);
  const eph = decode(v.ephPub);
  for (const p of v.proofs) {
    assert.equal(encode(await knockProof(ki, decode(p.nonce), eph)), p.proof, p.nonce);
    assert.equal(await verifyKnockProof(ki, decode(p.nonce), eph, decode(p.proof)), true);
    // An answer brings a fresh ephemeral key, and its proof verifies for that key.
    const a = await answerKnock(ki, p.nonce);
    assert.equal(await verifyKnockProof(ki, decode(p.nonce), decode(a.eph), decode(a.proof)), true);
    assert.deepEqual(a.names, []);
  }
});

test('refused proofs do not verify', async () => {
  const ki = await keys();
  assert.ok(v.refused.length >= 5);
  for (const r of v.refused) {
    assert.equal(await verifyKnockProof(ki, decode(r.nonce), decode(v.ephPub), decode(r.proof)), false, r.why);
  }
});

test('bad fields are refused', async () => {
  const ki = await keys();
  for (const f of v.badFields) {
    assert.equal(parseKnockField(f), null, f);
    assert.equal(await answerKnock(ki, f), null, f);
  }
  await assert.rejects(knockProof(ki, new Uint8Array(31), decode(v.ephPub)), (err) => err.code === 'bad-input');
});

test('the checker: verified, wrong, checking, no nonce, and a nonce replayed for another knocker', async () => {
  const ki = await keys();
  const other = (await meetingKeys(new Uint8Array(16).fill(9))).identityKey;
  const [a, b] = v.proofs;
  const knockEph = v.ephPub;
  const checker = new KnockChecker(ki);
  assert.equal(await checker.check({ participantId: 'p-a', knockNonce: a.nonce }), 'checking');
  assert.equal(await checker.check({ participantId: 'p-a', knockNonce: a.nonce, knockProof: a.proof, knockEph }), 'verified');
  assert.equal(await checker.check({ participantId: 'p-a', knockNonce: a.nonce, knockProof: a.proof, knockEph }), 'verified');
  assert.equal(await checker.check({ participantId: 'p-a', knockNonce: a.nonce, knockProof: a.proof }), 'wrong', 'no ephemeral key');
  assert.equal(await checker.check({ participantId: 'p-a', knockNonce: a.nonce, knockProof: a.proof, knockEph: v.modPub }), 'wrong', 'another key');
  const wrong = await answerKnock(other, b.nonce);
  assert.equal(await checker.check({ participantId: 'p-b', knockNonce: b.nonce, knockProof: wrong.proof, knockEph: wrong.eph }), 'wrong');
  assert.equal(await checker.check({ participantId: 'p-c', knockNonce: a.nonce, knockProof: a.proof, knockEph }), 'wrong', 'replayed nonce');
  assert.equal(await checker.check({ participantId: 'p-d', knockNonce: 'short', knockProof: a.proof, knockEph }), 'wrong');
  assert.equal(await checker.check({ participantId: 'p-e', knockNonce: v.proofs[2].nonce, knockProof: 'nope', knockEph }), 'wrong');
  // An encrypted meeting's server gives every knock a nonce: an entry without one is
  // unproven (it was shown without a verdict, and "Admit all" admitted it).
  assert.equal(await checker.check({ participantId: 'p-f' }), 'wrong', 'no nonce');
  assert.equal(await checker.check({ participantId: 'p-f', knockNonce: '' }), 'wrong', 'an empty nonce');
});

test('the checker never forgets a nonce: junk nonces cannot flush a replay past it, and once full it fails closed', async () => {
  const ki = await keys();
  const [a] = v.proofs;
  const entry = { participantId: 'p-a', knockNonce: a.nonce, knockProof: a.proof, knockEph: v.ephPub };
  const checker = new KnockChecker(ki);
  assert.equal(await checker.check(entry), 'verified');
  const junk = (i) => encode(Uint8Array.from({ length: 32 }, (_, j) => (i >> (8 * (j % 3))) & 0xff));
  const verdicts = new Set();
  for (let i = 1; i <= 20001; i++) verdicts.add(await checker.check({ participantId: `bot-${i}`, knockNonce: junk(i) }));
  assert.deepEqual([...verdicts], ['checking', 'wrong'], 'junk nonces: checking until the memory is full, then wrong');
  assert.equal(await checker.check({ ...entry, participantId: 'bot' }), 'wrong', 'the knocker\'s proof replayed under a bot\'s id');
  assert.equal(await checker.check(entry), 'verified', 'the knocker itself');
  const fresh = await answerKnock(ki, v.proofs[1].nonce);
  assert.equal(await checker.check({ participantId: 'p-b', knockNonce: v.proofs[1].nonce, knockProof: fresh.proof, knockEph: fresh.eph }), 'wrong', 'a nonce first seen once full');
});

test('a checker takes the nonces a checker before it remembered, within the same bound, and junk not at all', async () => {
  const ki = await keys();
  const [a, b] = v.proofs;
  const entry = { participantId: 'p-a', knockNonce: a.nonce, knockProof: a.proof, knockEph: v.ephPub };
  const before = new KnockChecker(ki);
  assert.equal(await before.check(entry), 'verified');
  assert.deepEqual(before.ownerEntries(), [[a.nonce, 'p-a']]);
  // The page's own resume: a new checker, given what the one before remembered.
  const after = new KnockChecker(ki, [...before.ownerEntries(), ['short', 'p-x'], [b.nonce, 7], 'junk', null, [a.nonce, 'p-y']]);
  assert.deepEqual(after.ownerEntries(), [[a.nonce, 'p-a']], 'junk taken, or a later entry over the first');
  assert.equal(await after.check({ ...entry, participantId: 'bot' }), 'wrong', 'the knocker\'s proof replayed under a bot\'s id');
  assert.equal(await after.check(entry), 'verified', 'the knocker itself');
  // At most as many as one checker holds: those beyond the bound are not taken, and
  // the full checker fails closed for a nonce it has not seen.
  const junk = (i) => encode(Uint8Array.from({ length: 32 }, (_, j) => (i >> (8 * (j % 3))) & 0xff));
  const many = Array.from({ length: 20001 }, (_, i) => [junk(i + 1), `bot-${i + 1}`]);
  const full = new KnockChecker(ki, many);
  assert.equal(full.ownerEntries().length, 20000);
  const fresh = await answerKnock(ki, b.nonce);
  assert.equal(await full.check({ participantId: 'p-b', knockNonce: b.nonce, knockProof: fresh.proof, knockEph: fresh.eph }), 'wrong', 'a nonce first seen once full');
});

test('a tab that verifies nobody is told its link is probably wrong', async () => {
  const info = (verified, unverified, knockWrong = []) => ({ state: 'on', verified, unverified, knockWrong });
  assert.equal(selfLinkWrong(null), false);
  assert.equal(selfLinkWrong({ ...info([], ['p-a']), state: 'off' }), false);
  assert.equal(selfLinkWrong(info([], [])), false, 'alone');
  assert.equal(selfLinkWrong(info([], ['p-a', 'p-b'])), true, 'nobody verified');
  assert.equal(selfLinkWrong(info(['p-a'], ['p-b'])), false, 'someone verified');
  assert.equal(selfLinkWrong(info([], ['p-a'], ['p-a'])), false, 'the only other one knocked with a wrong link');
  assert.equal(selfLinkWrong(info([], ['p-a', 'p-b'], ['p-a'])), true);
  assert.equal(selfLinkWrong({ ...info([], ['p-a']), pending: 1 }), false, 'someone is still being checked');
});

test('lobby keys match the Go reference; a knocker judges its link from them', async () => {
  const ki = await keys();
  const other = (await meetingKeys(new Uint8Array(16).fill(9))).identityKey;
  assert.ok(v.lobbyKeys.length >= 5);
  for (const k of v.lobbyKeys) {
    assert.equal(await verifyLobbyKey(ki, k.moderatorId, decode(k.pub), decode(k.tag)), k.valid, k.why);
    if (k.valid) assert.equal(encode(await lobbyKeyTag(ki, k.moderatorId, decode(k.pub))), k.tag, k.why);
  }
  const right = v.lobbyKeys.filter((k) => k.valid).map((k) => ({ from: k.moderatorId, pub: k.pub, tag: k.tag }));
  const bad = v.lobbyKeys.filter((k) => !k.valid).map((k) => ({ from: k.moderatorId, pub: k.pub, tag: k.tag }));
  assert.equal(await judgeLobbyKeys(ki, right), 'verified');
  assert.equal(await judgeLobbyKeys(other, right), 'wrong', 'another link');
  assert.equal(await judgeLobbyKeys(ki, bad), 'wrong');
  assert.equal(await judgeLobbyKeys(ki, [...bad, right[0]]), 'verified', 'one verifying key is enough');
  assert.equal(await judgeLobbyKeys(ki, []), null);
  assert.equal(await judgeLobbyKeys(ki, undefined), null);
  assert.equal(await judgeLobbyKeys(ki, [null, { from: 5 }, { from: 'p-x', pub: 'junk', tag: 'junk' }]), 'wrong');
  // A moderator's message verifies for its id only.
  const pub = new Uint8Array(32).fill(3);
  const msg = await lobbyKeyMessage(ki, 'p-mod', pub);
  assert.equal(await judgeLobbyKeys(ki, [{ from: 'p-mod', ...msg }]), 'verified');
  assert.equal(await judgeLobbyKeys(ki, [{ from: 'p-else', ...msg }]), 'wrong');
});

test('knock names match the Go reference; refused ones do not open', async () => {
  const eph = await importIdentity(decode(v.ephPrivate));
  const mod = await importIdentity(decode(v.modPrivate));
  assert.equal(encode(eph.publicKey), v.ephPub);
  assert.equal(encode(mod.publicKey), v.modPub);
  assert.ok(v.names.length >= 3);
  for (const c of v.names) {
    const sealed = await sealKnockName(eph.privateKey, mod.publicKey, decode(c.nonce), c.moderatorId, c.name, decode(c.iv));
    assert.equal(encode(sealed), c.sealed, c.name);
    assert.equal(await openKnockName(mod.privateKey, eph.publicKey, decode(c.nonce), c.moderatorId, decode(c.sealed)), c.name);
    // The intermediate values of FORMAT.md "Names" (Knocking): X25519 both ways, then
    // K = HKDF(shared, salt = nonce, info = "conclave/v2 knock" 0 moderatorId).
    assert.equal(encode(await x25519(eph.privateKey, mod.publicKey)), c.shared, `${c.name}: shared`);
    assert.equal(encode(await x25519(mod.privateKey, eph.publicKey)), c.shared, `${c.name}: shared, the moderator's side`);
    assert.equal(encode(await hkdf(decode(c.shared), decode(c.nonce), `conclave/v2 knock\0${c.moderatorId}`)), c.key, `${c.name}: K`);
  }
  assert.ok(v.refusedNames.some((c) => c.error === 'malformed' && /UTF-8/.test(c.why)), 'a name that is not UTF-8 is among the refused');
  for (const c of v.refusedNames) {
    await assert.rejects(openKnockName(mod.privateKey, eph.publicKey, decode(c.nonce), c.moderatorId, decode(c.sealed)),
      (err) => err.code === c.error, c.why);
  }
  await assert.rejects(sealKnockName(eph.privateKey, mod.publicKey, decode(v.names[0].nonce), 'p-mod', 'x'.repeat(201)), (err) => err.code === 'malformed');
});

test('a knock seals its name to each moderator whose lobby key verifies, and only that one opens it', async () => {
  const ki = await keys();
  const other = (await meetingKeys(new Uint8Array(16).fill(9))).identityKey;
  const modA = await generateIdentity();
  const modB = await generateIdentity();
  const fake = await generateIdentity(); // a key the server made up, tagged under another link
  const lobbyKeys = [
    { from: 'p-mod-a', ...(await lobbyKeyMessage(ki, 'p-mod-a', modA.publicKey)) },
    { from: 'p-mod-b', ...(await lobbyKeyMessage(ki, 'p-mod-b', modB.publicKey)) },
    { from: 'p-fake', ...(await lobbyKeyMessage(other, 'p-fake', fake.publicKey)) },
  ];
  const nonce = v.proofs[1].nonce;
  const answer = await answerKnock(ki, nonce, lobbyKeys, 'Kim Knock');
  assert.deepEqual(answer.names.map((n) => n.to), ['p-mod-a', 'p-mod-b'], 'no name for a key that does not verify');
  const entry = (to) => ({
    participantId: 'p-k', knockNonce: nonce, knockProof: answer.proof, knockEph: answer.eph,
    knockName: answer.names.find((n) => n.to === to).sealed,
  });
  const checkerA = new KnockChecker(ki);
  assert.equal(await checkerA.name(entry('p-mod-a')), undefined, 'no moderator key set');
  checkerA.setModerator(modA.privateKey, 'p-mod-a');
  assert.equal(await checkerA.name(entry('p-mod-a')), 'Kim Knock');
  assert.equal(await checkerA.name(entry('p-mod-b')), undefined, "another moderator's name does not open");
  // A name under a proof that does not verify is never shown, even if it opens.
  const forged = { ...entry('p-mod-a'), participantId: 'p-x', knockNonce: v.proofs[0].nonce };
  assert.equal(await checkerA.name(forged), undefined);
  const checkerB = new KnockChecker(ki);
  checkerB.setModerator(modB.privateKey, 'p-mod-b');
  assert.equal(await checkerB.name(entry('p-mod-b')), 'Kim Knock');
  const wrongLink = await answerKnock(other, nonce, lobbyKeys, 'Mallory');
  assert.deepEqual(wrongLink.names.map((n) => n.to), ['p-fake'], "a wrong link verifies none of the meeting's lobby keys, so seals to none of them");
});
