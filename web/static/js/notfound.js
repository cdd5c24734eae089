// The 404 page: static HTML whose texts i18n.js fills in the reader's language (importing
// it translates the page and mounts the language switch).
import './i18n.js';
