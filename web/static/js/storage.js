// The only place the client keeps anything in the browser, and an exhaustive list of
// what: nothing about other people, no names but the tab's own, no chat, no meeting ids.
//
// On this device (localStorage, kept until the browser's data is cleared): preferences
// only. In this tab (sessionStorage: browsers write it to the profile on disk and give
// it back to a reopened tab, README "Data"): what an admitted participant needs to come
// back after a reload without knocking again; Leave forgets all of it (reconnect.js left),
// and a page that was not reloaded (opened anew, Back, a tab reopened) forgets it as it
// starts (meeting-link.js readMeetingLink).
// web_test.go checks that no other module touches browser storage and that the key
// lists below stay this short; a new key needs a reason in README "Privacy".

/** DEVICE_KEYS are the preferences remembered on this device. */
const DEVICE_KEYS = {
  language: 'conclave.lang', // 'en' | 'de'
  blur: 'conclave.blur', // background blur on/off
  knockSound: 'conclave.knock-sound', // moderators: knock sound muted or not
  singleKeys: 'conclave.single-keys', // the one-key shortcuts ("?", Space held to talk) off or not
};

/** TAB_KEYS are kept for this tab only (resuming after a reload). */
const TAB_KEYS = {
  resume: 'conclave.resume', // the resumption secret of this tab's session
  moderator: 'conclave.moderator', // the moderator secret this tab joined with
  media: 'conclave.media', // this tab's own microphone/camera on or off, restored after a reload
  name: 'conclave.name', // this tab's own display name: in an encrypted meeting the server has none to give back
  // '1' while this tab's meeting page is open with a membership, gone at pagehide: a page
  // that finds it was killed by the browser (a crash, a mobile browser's kill, a discard),
  // not left, and the browser brings the tab back: it keeps the rest (meeting-link.js)
  open: 'conclave.open',
};

function get(area, keys, name) {
  if (!Object.hasOwn(keys, name)) throw new Error(`storage: unknown key ${name}`);
  try {
    return area().getItem(keys[name]);
  } catch {
    return null; // storage disabled: behave as if nothing was kept
  }
}

function put(area, keys, name, value) {
  if (!Object.hasOwn(keys, name)) throw new Error(`storage: unknown key ${name}`);
  try {
    if (value === null || value === undefined) area().removeItem(keys[name]);
    else area().setItem(keys[name], String(value));
  } catch {
    // not kept; the feature still works for this page
  }
}

const device = () => window.localStorage;
const tab = () => window.sessionStorage;

/** devicePreference returns a preference kept on this device, or null. */
export const devicePreference = (name) => get(device, DEVICE_KEYS, name);
/** setDevicePreference keeps (or with null forgets) a preference on this device. */
export const setDevicePreference = (name, value) => put(device, DEVICE_KEYS, name, value);
/** tabValue returns a value kept for this tab, or null. */
export const tabValue = (name) => get(tab, TAB_KEYS, name);
/** setTabValue keeps (or with null forgets) a value for this tab only. */
export const setTabValue = (name, value) => put(tab, TAB_KEYS, name, value);
/** forgetTabValues forgets every value kept for this tab. */
export function forgetTabValues() {
  for (const name of Object.keys(TAB_KEYS)) put(tab, TAB_KEYS, name, null);
}
