// Keyboard shortcuts of the counter: Alt + the letter shown beside a field or button focuses the field or presses
// the button. Matched by the key's place on the keyboard (event.code), so they work with the Persian layout too, and
// the same in every browser (the accesskey attribute needs Alt in one browser, Alt+Shift in another).
"use strict";

document.addEventListener("keydown", (event) => {
  if (!event.altKey || event.ctrlKey || event.metaKey || !event.code.startsWith("Key")) return;
  const letter = event.code.slice(3).toLowerCase();
  const target = document.querySelector(`[data-shortcut="${letter}"]`);
  if (!target) return;
  event.preventDefault();
  if (target.matches("input, select, textarea")) {
    target.focus();
    target.select?.();
  } else {
    target.click();
  }
});
