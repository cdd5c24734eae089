// Script URLs under the CSP's Trusted Types (script-urls.js): only a path below /static/
// of this origin becomes a script URL, through the one policy the CSP names.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { SCRIPT_URL_POLICY, ScriptURLRefused, scriptURL, staticScriptPath } from '../static/js/script-urls.js';

// The scripts the page starts itself: the E2EE worker, blur's ticker, the blur runtime's
// loader and glue, the browser tests' worker.
const OWN = [
  '/static/js/e2ee/worker.js',
  '/static/js/blur-tick.js',
  '/static/vendor/selfie-segmentation/selfie_segmentation.js',
  '/static/vendor/selfie-segmentation/selfie_segmentation_solution_simd_wasm_bin.js',
  '/static/test/e2ee-worker.js',
];

const FOREIGN = [
  '', '/', '/static/', 'static/js/x.js', './static/js/x.js', '/m/x.js', '/staticx/x.js',
  '//evil.invalid/x.js', '///evil.invalid/x.js', 'https://evil.invalid/static/x.js', 'HTTPS://evil.invalid/x.js',
  '/static//evil.invalid/x.js', '/static/../m/x.js', '/static/js/../../m/x.js', '/static/./js/x.js', '/static/js/..',
  '/static/%2e%2e/m/x.js', '/static/.%2e/m/x.js', '/static/js%2fx.js', '/static\\..\\m\\x.js', '/static/..\\m/x.js',
  '/static/js/x.js?callback=alert', '/static/js/x.js#x', ' /static/js/x.js', '/static/js/x.js\n', '/static/js/x .js',
  'blob:https://meet.example/0f6e1c2a', 'data:text/javascript,alert(1)', 'javascript:alert(1)',
  null, undefined, 42, ['/static/js/x.js'], { toString: () => '/static/js/x.js' },
];

test('a path below /static/ is a script URL, and nothing else is', () => {
  for (const url of OWN) assert.equal(staticScriptPath(url), url);
  for (const url of FOREIGN) {
    assert.throws(() => staticScriptPath(url), ScriptURLRefused, `${JSON.stringify(String(url))} was taken`);
    assert.throws(() => scriptURL(url), ScriptURLRefused, `${JSON.stringify(String(url))} was taken`);
  }
});

test('without Trusted Types the checked path itself is given', () => {
  assert.equal(globalThis.trustedTypes, undefined);
  assert.equal(scriptURL('/static/js/e2ee/worker.js'), '/static/js/e2ee/worker.js');
});

test('with Trusted Types the script URL is made by the one policy, made once, which checks too', () => {
  const made = [];
  globalThis.trustedTypes = {
    createPolicy(name, rules) {
      made.push({ name, rules });
      return { createScriptURL: (url) => ({ trusted: rules.createScriptURL(url) }) };
    },
  };
  try {
    assert.deepEqual(scriptURL('/static/js/blur-tick.js'), { trusted: '/static/js/blur-tick.js' });
    assert.deepEqual(scriptURL('/static/js/e2ee/worker.js'), { trusted: '/static/js/e2ee/worker.js' });
    assert.deepEqual(made.map((p) => [p.name, Object.keys(p.rules)]), [[SCRIPT_URL_POLICY, ['createScriptURL']]]);
    assert.equal(SCRIPT_URL_POLICY, 'conclave-script-url'); // the name the CSP allows (web.go)
    for (const url of FOREIGN) {
      assert.throws(() => scriptURL(url), ScriptURLRefused);
      assert.throws(() => made[0].rules.createScriptURL(url), ScriptURLRefused, 'the policy itself took a foreign URL');
    }
  } finally {
    delete globalThis.trustedTypes;
  }
});
