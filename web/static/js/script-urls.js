// Script URLs under Trusted Types. The page's CSP (web/web.go) requires a TrustedScriptURL
// wherever a string would start script: a <script>'s src, new Worker(…). This module's
// policy, the one the CSP names ("conclave-script-url"), makes one only for a script this
// server ships, so no string that came from elsewhere (a name, a chat message, a link)
// can ever be loaded as script, here or by a future mistake.
//
// A browser without Trusted Types (Node, an older engine) gets the checked string: the
// same check, without the browser's enforcement behind it.

export const SCRIPT_URL_POLICY = 'conclave-script-url';

// A path below /static/ of this origin: root-relative (so no scheme, host or "//"),
// of plain path characters (no "%", so no encoded dot or slash; no "\", which a URL
// parser reads as "/"; no query, no fragment), and no empty segment nor "." or "..",
// which would lead out of /static/.
const STATIC_PATH = /^\/static\/[A-Za-z0-9_.\-/]+$/;

/** ScriptURLRefused: a script URL that is not one of this server's /static/ files. */
export class ScriptURLRefused extends TypeError {
  constructor(url) {
    super(`not a script of this server: ${String(url).slice(0, 100)}`);
    this.name = 'ScriptURLRefused';
  }
}

/** staticScriptPath returns url if it is a path below /static/ (see STATIC_PATH), or throws ScriptURLRefused. */
export function staticScriptPath(url) {
  if (typeof url !== 'string' || !STATIC_PATH.test(url)) throw new ScriptURLRefused(url);
  if (url.split('/').slice(1).some((segment) => segment === '' || segment === '.' || segment === '..')) throw new ScriptURLRefused(url);
  return url;
}

// The policy is made at the first use: a name may be made only once per page, and a
// page that never starts a script (the landing page) needs none.
let policy = null;

/** scriptURL returns url as a TrustedScriptURL (a string where there are no Trusted Types); it throws ScriptURLRefused for any other URL. */
export function scriptURL(url) {
  const path = staticScriptPath(url);
  const types = globalThis.trustedTypes;
  if (!types || typeof types.createPolicy !== 'function') return path;
  if (!policy) policy = types.createPolicy(SCRIPT_URL_POLICY, { createScriptURL: staticScriptPath });
  return policy.createScriptURL(path);
}
